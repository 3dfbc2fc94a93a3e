/*
 * Smoke test of the Wine set-up, run by .ci/setup-windows.sh: a Windows
 * program that imports ProcessPrng from bcryptprimitives.dll, as every
 * Rust program does, and asks it for random bytes. If this does not start,
 * no Rust test binary will; the failure is clearer here.
 */
#include <stdio.h>
#include <windows.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len);

int main(void)
{
    BYTE buf[64] = {0};
    int nonzero = 0;
    if (!ProcessPrng(buf, sizeof buf)) {
        puts("ProcessPrng failed");
        return 1;
    }
    for (size_t i = 0; i < sizeof buf; i++)
        nonzero += buf[i] != 0;
    if (nonzero == 0) {
        puts("ProcessPrng returned only zero bytes");
        return 1;
    }
    puts("ProcessPrng ok");
    return 0;
}
