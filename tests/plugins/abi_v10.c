/* Test plugin abi_v10: an ABI 1.0 plugin (its descriptor ends before the
 * 1.1 fields, which hold bait a host must not read); see test_plugin.h. */
#define PLUGIN_NAME "abi_v10"
#define ABI_1_0
#include "test_plugin.h"
