/*
 * app.exe (and app-laa.exe, the same linked --large-address-aware) - the executable: imports
 * kbase.dll and ubase.dll. Linked with a stack of 0x180000 reserved / 0x3000 committed and a
 * heap of 0x240000 / 0x5000, so that the process's first thread and heap show the header's
 * numbers rather than anybody's defaults.
 */
#include "fixture.h"

IMPORT int k_add(int a, int b);
IMPORT const char *k_get(int i);
IMPORT int u_message(int m);

int app_state = 1;
static const char app_title[] = "app: the executable fixture";
const char *app_strings[2] = {app_title, 0};

int exe_entry(void)
{
    return k_add(1, 2) + u_message(3) + (k_get(0) != 0) + app_state;
}
