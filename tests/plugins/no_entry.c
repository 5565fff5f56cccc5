/* Test plugin no_entry: see test_plugin.h. */
#define PLUGIN_NAME "no_entry"
#define NO_ENTRY 1
#include "test_plugin.h"
