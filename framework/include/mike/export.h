#pragma once
// Plugins are built with hidden visibility; SDK types keep default visibility
// so their type_info is one object across the host and every plugin.
#define MIKE_API __attribute__((visibility("default")))
