/*
 * The NATS JetStream side of Scripts/bench.sh: publishes COUNT messages of SIZE bytes
 * to a file-backed stream over TLS and waits for every publish acknowledgement, with 1
 * (synchronous js_Publish) or INFLIGHT (js_PublishAsync, MaxPending = INFLIGHT)
 * messages outstanding. Prints one JSON line: rate and ack latency percentiles.
 * Built by Scripts/bench.sh against Debian's libnats (libnats-dev); not part of IIAS.
 *
 *   nats-bench URL CA_FILE COUNT INFLIGHT SIZE
 */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t *sent_at;   /* ns, by stream sequence (1-based) */
static int64_t *latency;   /* ns, by message */
static volatile int64_t acked;
static volatile int64_t failed;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
    (void)js; (void)closure;
    if (pae != NULL || pa == NULL) { failed++; }
    else { latency[pa->Sequence - 1] = now_ns() - sent_at[pa->Sequence - 1]; acked++; }
    natsMsg_Destroy(msg);
}

static int compare(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void die(const char *what, natsStatus s) {
    fprintf(stderr, "nats-bench: %s: %s\n", what, natsStatus_GetText(s));
    nats_PrintLastErrorStack(stderr);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: nats-bench URL CA_FILE COUNT INFLIGHT SIZE\n"); return 2; }
    const char *url = argv[1], *ca = argv[2];
    int64_t count = atoll(argv[3]), inflight = atoll(argv[4]);
    int size = atoi(argv[5]);
    if (count <= 0 || inflight <= 0 || size <= 0) { fprintf(stderr, "nats-bench: bad numbers\n"); return 2; }

    natsOptions *opts; natsConnection *conn; jsCtx *js; jsErrCode jerr = 0; natsStatus s;
    if ((s = natsOptions_Create(&opts)) != NATS_OK) die("options", s);
    natsOptions_SetURL(opts, url);
    natsOptions_SetSecure(opts, true);
    if ((s = natsOptions_LoadCATrustedCertificates(opts, ca)) != NATS_OK) die("CA file", s);
    if ((s = natsConnection_Connect(&conn, opts)) != NATS_OK) die("connect", s);

    jsOptions jo; jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = inflight;
    jo.PublishAsync.AckHandler = on_ack;
    if ((s = natsConnection_JetStream(&js, conn, &jo)) != NATS_OK) die("jetstream", s);

    jsStreamConfig sc; jsStreamConfig_Init(&sc);
    const char *subjects[] = {"bench.notifications"};
    sc.Name = "BENCH"; sc.Subjects = subjects; sc.SubjectsLen = 1; sc.Storage = js_FileStorage;
    js_DeleteStream(js, "BENCH", NULL, NULL);   /* a fresh stream: sequence n is message n */
    if ((s = js_AddStream(NULL, js, &sc, NULL, &jerr)) != NATS_OK) die("add stream", s);

    char *payload = malloc(size);
    for (int i = 0; i < size; i++) payload[i] = (char)('a' + i % 26);
    sent_at = calloc(count, sizeof *sent_at);
    latency = calloc(count, sizeof *latency);

    int64_t start = now_ns();
    if (inflight == 1) {
        for (int64_t i = 0; i < count; i++) {
            int64_t t0 = now_ns();
            jsPubAck *pa = NULL;
            if ((s = js_Publish(&pa, js, "bench.notifications", payload, size, NULL, &jerr)) != NATS_OK) die("publish", s);
            latency[i] = now_ns() - t0;
            jsPubAck_Destroy(pa);
            acked++;
        }
    } else {
        for (int64_t i = 0; i < count; i++) {
            sent_at[i] = now_ns();
            if ((s = js_PublishAsync(js, "bench.notifications", payload, size, NULL)) != NATS_OK) die("publish async", s);
        }
        jsPubOptions po; jsPubOptions_Init(&po); po.MaxWait = 60000;
        if ((s = js_PublishAsyncComplete(js, &po)) != NATS_OK) die("waiting for acks", s);
    }
    double seconds = (now_ns() - start) / 1e9;
    if (acked != count) { fprintf(stderr, "nats-bench: %lld of %lld acknowledged (%lld failed)\n", (long long)acked, (long long)count, (long long)failed); return 1; }

    qsort(latency, count, sizeof *latency, compare);
    #define PCT(p) (latency[(int64_t)((count - 1) * (p))] / 1e3)
    printf("{\"count\":%lld,\"inflight\":%lld,\"size\":%d,\"seconds\":%.3f,\"rate\":%.0f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f}\n",
           (long long)count, (long long)inflight, size, seconds, count / seconds, PCT(0.5), PCT(0.99), PCT(0.999));
    js_DeleteStream(js, "BENCH", NULL, NULL);
    jsCtx_Destroy(js); natsConnection_Destroy(conn); natsOptions_Destroy(opts);
    return 0;
}
