/* Test plugin bad_abi12: every ABI 1.2 rule broken once; see
 * test_plugin.h. */
#define PLUGIN_NAME "bad_abi12"
#define BAD_1_2
#include "test_plugin.h"
