/* The plugins a host must refuse at load time without dying, and the two
 * versions of the good plugin "swap": test_plugin.h bent by the macros
 * meson.build gives each. */
#include "../test_plugin.h"
