extension NodeConfiguration {
    /// How the node takes part in witnessing (`"witness": {"enabled": true, "quorum": 2}`).
    /// The quorum is why cosignatures matter: a checkpoint counts as witnessed, and receipt
    /// proofs end in it, once that many peers cosigned it; the log's own signature never
    /// counts. Turning witnessing off serves a network with a peer that cannot witness.
    public struct Witnessing: Sendable, Equatable {
        /// Offer our checkpoints to peers and cosign theirs.
        public var enabled = true
        /// Peers' cosignatures a checkpoint needs, 1 … number of peers.
        public var quorum = 1
        /// How long a peer's log may leave unanswered, while its link is up, our question
        /// whether a checkpoint another witness gossiped is consistent with ours before the
        /// operators are told (a log that forked cannot answer it; one that will not is
        /// hiding something or broken).
        public var proofWaitSeconds = 600

        /// The default quorum: a majority of the peers (2 of 3, 3 of 4).
        public static func majority(of peers: Int) -> Int { max(1, peers / 2 + 1) }

        public init() {}
    }
}
