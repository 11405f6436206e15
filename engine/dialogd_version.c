/* The version string of the programs, from CMake's project(). */
#include "engine/version.h"

const char *eng_version(void)
{
	return "0.1.0";
}
