// A streaming read for measuring memory bandwidth (see CKernels.h).
#include "CKernels.h"

#include <string.h>

uint64_t medtune_sum_words(const void *bytes, size_t count) {
    // Eight independent sums, one 64-byte line per step, so that the loop issues loads as fast as
    // memory answers and the compiler vectorizes it without a chain through one register.
    uint64_t sums[8] = {0};
    const unsigned char *p = bytes;
    for (size_t at = 0; at + 64 <= count; at += 64) {
        uint64_t line[8];
        memcpy(line, p + at, sizeof line);
        for (int i = 0; i < 8; i++) sums[i] += line[i];
    }
    uint64_t total = 0;
    for (int i = 0; i < 8; i++) total += sums[i];
    return total;
}
