/*
 * ubase.dll - the "user32-like" DLL: imported by app.exe, and itself importing kbase.dll (so
 * kbase.dll is reached twice and must be loaded once). Imports a function and a variable.
 */
#include "fixture.h"

IMPORT int k_add(int a, int b);
IMPORT int k_counter;

EXPORT int u_windows = 3;
static const char u_class[] = "ubase window class";
EXPORT const char *u_names[2] = {u_class, 0};

EXPORT int u_message(int m) { return k_add(m, u_windows) + k_counter; }

int __stdcall dll_entry(void *module, unsigned reason, void *reserved)
{
    (void)module;
    (void)reason;
    (void)reserved;
    return 1;
}
