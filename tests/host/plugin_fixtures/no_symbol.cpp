// Fixture: a valid shared library named like a plugin but exporting nothing
// the host looks for.
extern "C" __attribute__((visibility("default"))) int not_a_mike_plugin() { return 42; }
