#ifndef IIAS_CSODIUM_SHIM_H
#define IIAS_CSODIUM_SHIM_H
#include <sodium.h>
#endif
