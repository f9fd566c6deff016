// Every plugin the build produced loads through its one entry point and describes itself
// as the host expects: same ABI, same SDK headers, same toolchain, a name and a version,
// and create/destroy that work.

#include <Poco/DirectoryIterator.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>

#include "host/plugin_host.h"

namespace ciclo::host {
namespace {

std::vector<std::string> builtPlugins() {
  std::vector<std::string> out;
  for (Poco::DirectoryIterator it{std::string(CICLO_PLUGIN_DIR)}, end; it != end; ++it) {
    if (it.path().getExtension() == "so") out.push_back(it.path().toString());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(PluginContract, EveryBuiltPluginDescribesItselfAndLoads) {
  const auto plugins = builtPlugins();
  ASSERT_FALSE(plugins.empty()) << "no plugin was built into " << CICLO_PLUGIN_DIR;
  std::set<std::string> names;
  for (const auto& path : plugins) {
    SCOPED_TRACE(path);
    auto library = PluginLibrary::open(path);
    ASSERT_TRUE(library.ok()) << library.error().message;
    const auto* d = library.value()->descriptor();
    ASSERT_NE(d, nullptr);
    Status checked = checkDescriptor(d);
    EXPECT_TRUE(checked.ok()) << (checked.ok() ? "" : checked.error().message);
    EXPECT_EQ(d->abi_version, static_cast<std::uint32_t>(CICLO_PLUGIN_ABI_VERSION));
    EXPECT_STREQ(d->sdk_hash, CICLO_SDK_HASH);
    EXPECT_STREQ(d->toolchain, CICLO_TOOLCHAIN);
    EXPECT_TRUE(std::regex_match(d->name, std::regex("[a-z0-9_]{1,32}"))) << d->name;
    EXPECT_TRUE(std::regex_match(d->version, std::regex(R"(\d+\.\d+\.\d+)"))) << d->version;
    EXPECT_TRUE(names.insert(d->name).second) << "two plugins are called " << d->name;
    sdk::Plugin* plugin = d->create();
    ASSERT_NE(plugin, nullptr);
    d->destroy(plugin);
  }
}

TEST(PluginContract, APluginBuiltAgainstOtherHeadersIsRefusedSayingWhatDiffers) {
  auto library = PluginLibrary::open(CICLO_TEST_PLUGIN_DIR "/echo_foreign.so");
  ASSERT_TRUE(library.ok()) << library.error().message;
  Status checked = checkDescriptor(library.value()->descriptor());
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find(
                "other SDK headers (hash 0000000000000000, this ciclod has " CICLO_SDK_HASH ")"),
            std::string::npos)
      << checked.error().message;
}

TEST(PluginContract, DescriptorsThatDifferAreRefused) {
  CicloPluginDescriptor d{CICLO_PLUGIN_ABI_VERSION,
                          CICLO_SDK_HASH,
                          CICLO_TOOLCHAIN,
                          "x",
                          "1.0.0",
                          []() -> sdk::Plugin* { return nullptr; },
                          [](sdk::Plugin*) {}};
  EXPECT_TRUE(checkDescriptor(&d).ok());
  auto abi = d;
  abi.abi_version = 99;
  EXPECT_NE(checkDescriptor(&abi).error().message.find("plugin ABI is version 99"),
            std::string::npos);
  auto toolchain = d;
  toolchain.toolchain = "clang-3.4";
  EXPECT_NE(checkDescriptor(&toolchain).error().message.find("another toolchain (clang-3.4"),
            std::string::npos);
  auto unnamed = d;
  unnamed.name = "";
  EXPECT_FALSE(checkDescriptor(&unnamed).ok());
  auto noFactory = d;
  noFactory.create = nullptr;
  EXPECT_FALSE(checkDescriptor(&noFactory).ok());
  EXPECT_FALSE(checkDescriptor(nullptr).ok());
  EXPECT_FALSE(PluginLibrary::open("/nonexistent/plugin.so").ok());
}

}  // namespace
}  // namespace ciclo::host
