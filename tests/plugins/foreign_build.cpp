// Descriptors written by hand, as plugins built for another nasx ABI or another
// LibTorch would carry. FOREIGN_ABI / FOREIGN_TORCH pick which.
#include <cstdint>

#include <boost/config.hpp>
#include <nasx/version.hpp>  // only its defines

extern "C" {
struct foreign_descriptor {
  uint32_t abi_version;
  uint32_t kind;
  const char* name;
  const char* version;
  const char* summary;
  const char* sdk_version;
  const char* torch_version;
  int32_t cxx11_abi;
  int32_t with_cuda;
  void* (*create)(char*, unsigned long);
  void* (*schema)(char*, unsigned long);
};

static void* no_factory(char*, unsigned long) { return nullptr; }

BOOST_SYMBOL_EXPORT const foreign_descriptor* nasx_plugin_entry() {
#if defined(FOREIGN_ABI)
  // A future ABI: only the first field may be trusted.
  static const foreign_descriptor d = {99, 1, "test_future", "1.0",     "", "9.0.0", "9.9.0",
                                       1,  0, no_factory,    no_factory};
#else
  // This SDK's ABI number, so that the build stamp is what the host refuses.
  static const foreign_descriptor d = {
      NASX_ABI_VERSION,           1, "test_old_torch", "1.0",     "", "0.1.0", "0.4.1",
      1 - _GLIBCXX_USE_CXX11_ABI, 0, no_factory,       no_factory};
#endif
  return &d;
}
}
