/* loop.exe: imports loopa.dll, which imports loopb.dll, which imports loopa.dll (see loopa.c). */
#include "fixture.h"

IMPORT int la_value(void);

int exe_entry(void) { return la_value(); }
