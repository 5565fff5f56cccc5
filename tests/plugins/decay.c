/* Test plugin decay: see test_plugin.h. */
#define PLUGIN_NAME "decay"

#include "test_plugin.h"
