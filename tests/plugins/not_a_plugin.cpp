// An ordinary shared library that happens to sit in a plugin folder.
extern "C" int nasx_fixture_answer() { return 42; }
