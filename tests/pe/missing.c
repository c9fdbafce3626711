/*
 * missing.exe: imports kbase.dll and gone.dll; gone.dll is never built (its import library
 * comes from gone.def), so creating the process fails with ERROR_MOD_NOT_FOUND (126) as
 * Windows' loader does (STATUS_DLL_NOT_FOUND).
 */
#include "fixture.h"

IMPORT int k_add(int a, int b);
IMPORT int g_absent(void);

int exe_entry(void) { return k_add(g_absent(), 1); }
