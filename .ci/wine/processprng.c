/*
 * bcryptprimitives.dll for Wine 8: exports ProcessPrng, which Rust's std
 * (since 1.78) imports to seed HashMap keys and fill random buffers. Wine 8
 * has no bcryptprimitives.dll, so a Windows program built by Rust does not
 * even start under it. This stand-in forwards to SystemFunction036
 * (RtlGenRandom, advapi32), which Wine has had for a long time.
 *
 * Built and installed into the Wine prefix by .ci/setup-windows.sh:
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll \
 *       processprng.c processprng.def -ladvapi32
 */
#include <windows.h>

/* RtlGenRandom: declared here because its header needs extra macros. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/*
 * BOOL ProcessPrng(PBYTE pbData, SIZE_T cbData): fills the buffer with
 * random bytes. Windows documents it as always returning TRUE; RtlGenRandom
 * takes a ULONG length, so large requests are fed in chunks.
 */
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}
