/* Test plugin abi_major2: see test_plugin.h. */
#define PLUGIN_NAME "abi_major2"
#define ABI_MAJOR 2
#define ABI_MINOR 0
#include "test_plugin.h"
