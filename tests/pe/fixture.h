/*
 * fixture.h - shared by the PE fixtures of test_image (built with mingw-w64, no C runtime: the
 * only imports of a fixture are the fixtures it names). No fixture's code is ever run; the
 * code only exists to give the images real sections, relocations and imports.
 */
#ifndef VAS_PE_FIXTURE_H
#define VAS_PE_FIXTURE_H

#define EXPORT __declspec(dllexport)
#define IMPORT __declspec(dllimport)

/* The entry points named with -e (a DLL's is DllMain-shaped, stdcall). */
int __stdcall dll_entry(void *module, unsigned reason, void *reserved);
int exe_entry(void);

#endif
