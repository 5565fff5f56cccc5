/* Test plugin abi_minor_newer: see test_plugin.h. */
#define PLUGIN_NAME "abi_minor_newer"
#define ABI_MINOR (TWIN_MODEL_ABI_MINOR + 1)
#include "test_plugin.h"
