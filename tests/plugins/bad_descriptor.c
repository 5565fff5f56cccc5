/* Test plugin bad_descriptor: see test_plugin.h. */
#define PLUGIN_NAME "bad_descriptor"
#define BAD_DESCRIPTOR 1
#include "test_plugin.h"
