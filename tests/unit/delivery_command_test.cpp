// What a delivery command is given (SPEC §13): its argv, filled per
// argument without a shell, and a clean environment.

#include <map>

#include <gtest/gtest.h>

#include "ops/delivery_command.hpp"

namespace exportd {
namespace {

DeliveryValues values() {
  DeliveryValues v;
  v.file_path = "/srv/videos/night/it's a \"video\" $(rm -rf).mp4";
  v.download_url = "https://cdn/v.mp4?sig=a&b";
  v.file = "night";
  v.id = "tom 2";
  v.project_id = "p1";
  v.sha256 = std::string(64, 'a');
  v.bytes = "1048576";
  v.delivery_id = "20261206T020000Z-q1-night.yaml#tom 2";
  return v;
}

TEST(DeliveryCommand, EachPlaceholderIsFilledWithinItsOwnArgument) {
  const std::vector<std::string> command{"rclone", "copyto", "{file_path}", "archive:videos/{file}/{id}.mp4",
                                         "--header", "X-Sha: {sha256}", "{nope}"};
  const auto argv = delivery_argv(command, values());
  ASSERT_EQ(argv.size(), command.size());  // a space or a quote in a value never makes another argument
  EXPECT_EQ(argv[2], values().file_path);
  EXPECT_EQ(argv[3], "archive:videos/night/tom 2.mp4");
  EXPECT_EQ(argv[5], "X-Sha: " + std::string(64, 'a'));
  EXPECT_EQ(argv[6], "{nope}");
}

TEST(DeliveryCommand, ACommandThatCannotWorkIsRefusedAtTheConfig) {
  EXPECT_EQ(delivery_command_problem({"rclone", "copyto", "{file_path}", "r:{id}"}, true), "");
  EXPECT_NE(delivery_command_problem({}, true), "");
  EXPECT_NE(delivery_command_problem({""}, true), "");
  EXPECT_NE(delivery_command_problem({"x", "{filepath}"}, true).find("{filepath} is not a placeholder"), std::string::npos);
  EXPECT_NE(delivery_command_problem({"x", "{file_path}"}, false).find("needs downloads on"), std::string::npos);
  EXPECT_EQ(delivery_command_problem({"x", "{download_url}"}, false), "");
}

TEST(DeliveryCommand, TheEnvironmentHoldsOnlyWhatItIsGiven) {
  const std::map<std::string, std::string, std::less<>> ours{
      {"PATH", "/usr/bin"}, {"HOME", "/var/lib/exportd"}, {"AISTUDIOS_USER_KEY", "secret"},
      {"RCLONE_CONFIG", "/etc/exportd/rclone.conf"}, {"EXPORTD_ID", "forged"}};
  const auto lookup = [&](std::string_view name) -> std::optional<std::string> {
    const auto it = ours.find(name);
    if (it == ours.end()) return std::nullopt;
    return it->second;
  };
  const auto env = delivery_env(values(), {"RCLONE_CONFIG", "EXPORTD_ID", "NOT_SET"}, lookup);
  const std::vector<std::string> expected{"PATH=/usr/bin",
                                          "HOME=/var/lib/exportd",
                                          "RCLONE_CONFIG=/etc/exportd/rclone.conf",
                                          "EXPORTD_FILE_PATH=" + values().file_path,
                                          "EXPORTD_DOWNLOAD_URL=https://cdn/v.mp4?sig=a&b",
                                          "EXPORTD_FILE=night",
                                          "EXPORTD_ID=tom 2",
                                          "EXPORTD_PROJECT_ID=p1",
                                          "EXPORTD_SHA256=" + std::string(64, 'a'),
                                          "EXPORTD_BYTES=1048576",
                                          "EXPORTD_DELIVERY_ID=20261206T020000Z-q1-night.yaml#tom 2"};
  EXPECT_EQ(env, expected);  // no user key, no LANG (not set), EXPORTD_* only ours
}

}  // namespace
}  // namespace exportd

#include "ops/progress_line.hpp"

namespace exportd {
namespace {

TEST(ProgressLine, DeliveriesUnderWayAreCounted) {
  BatchCounts c;
  c.total = 10;
  c.done = 4;
  c.in_flight = 6;
  c.delivering = 3;
  const auto line = format_progress(c, Millis(4000));
  EXPECT_NE(line.find("6 in flight, 3 delivering, ETA"), std::string::npos) << line;
  c.delivering = 0;
  EXPECT_EQ(format_progress(c, Millis(4000)).find("delivering"), std::string::npos);
}

}  // namespace
}  // namespace exportd
