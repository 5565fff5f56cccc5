/* Test plugin bad_abi11: every ABI 1.1 rule broken once; see
 * test_plugin.h. */
#define PLUGIN_NAME "bad_abi11"
#define BAD_1_1
#include "test_plugin.h"
