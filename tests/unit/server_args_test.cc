// Unit tests for forward-server's command line (src/server_args.{h,cc}).
#include "server_args.h"

#include <gtest/gtest.h>

#include <string>

#include "argv.h"

namespace {

bool parse(Argv argv, ServerArgs& out, ArgsExit& exit) {
  return parse_server_args(argv.argc(), argv.argv(), out, exit);
}

}  // namespace

TEST(ServerArgs, Defaults) {
  ServerArgs a;
  ArgsExit exit;
  ASSERT_TRUE(parse({"forward-server", "etc/x.cfg"}, a, exit));
  EXPECT_EQ("etc/x.cfg", a.config);
  EXPECT_FALSE(a.check_only);
  EXPECT_FALSE(a.daemon.verbose);
  EXPECT_FALSE(a.daemon.syslog);
  EXPECT_FALSE(a.daemon.daemon);
  EXPECT_EQ("", a.daemon.pid_file);
}

TEST(ServerArgs, EachOption) {
  ServerArgs a;
  ArgsExit exit;
  ASSERT_TRUE(
      parse({"forward-server", "-nv", "x.cfg", "--daemon", "--pid-file", "p.pid"}, a, exit));
  EXPECT_TRUE(a.check_only);
  EXPECT_TRUE(a.daemon.verbose);
  EXPECT_TRUE(a.daemon.daemon);
  EXPECT_TRUE(a.daemon.syslog);
  EXPECT_EQ("p.pid", a.daemon.pid_file);
  EXPECT_EQ("x.cfg", a.config);

  ServerArgs b;
  ASSERT_TRUE(parse({"forward-server", "--check", "--verbose", "--syslog", "y.cfg"}, b, exit));
  EXPECT_TRUE(b.check_only);
  EXPECT_TRUE(b.daemon.verbose);
  EXPECT_TRUE(b.daemon.syslog);
  EXPECT_FALSE(b.daemon.daemon);
}

TEST(ServerArgs, ExactlyOneConfig) {
  for (Argv argv : {Argv{"forward-server"}, Argv{"forward-server", "a.cfg", "b.cfg"}}) {
    ArgsExit exit = early_exit(parse_server_args, argv);
    EXPECT_EQ(kExitUsage, exit.status);
    EXPECT_EQ(0u, exit.err.find("forward-server: expected exactly one CONFIG file argument\n"
                                "usage: forward-server [options] CONFIG\n"))
        << exit.err;
  }
}

TEST(ServerArgs, HelpText) {
  std::string u = help_text(parse_server_args, "forward-server");
  EXPECT_EQ(0u, u.find("usage: forward-server [options] CONFIG\n")) << u;
  EXPECT_NE(std::string::npos,
            u.find("options:\n"
                   "  -n, --check           check the configuration (and its key and certificate\n"
                   "                        files), print 'configuration OK', exit\n"
                   "      --init            make the shared key and a self-signed TLS certificate\n"
                   "                        in DIR (default " SYSCONFDIR "/tcp-forward) or CONFIG's\n"
                   "                        folder, add them to its forward_server.cfg, print the\n"
                   "                        forward-client command; never overwrites a file\n"
                   "  -v, --verbose         log at debug level (overrides LOG_LEVEL)\n"))
      << u;
  EXPECT_NE(std::string::npos,
            u.find("      --pid-file PATH   write the process id to PATH (overrides PID_FILE)\n"
                   "  -h, --help            show this help and exit\n"
                   "      --version         show the version and exit\n\nsignals: HUP"))
      << u;
}

TEST(ServerArgs, VersionAndShortOptionsThatDoNotExist) {
  EXPECT_EQ("forward-server (tcp-forward) " PACKAGE_VERSION "\n",
            early_exit(parse_server_args, {"forward-server", "--version"}).out);
  for (Argv argv : {Argv{"forward-server", "-V", "x"}, Argv{"forward-server", "-d", "x"}})
    EXPECT_EQ(kExitUsage, early_exit(parse_server_args, argv).status);
}

TEST(ServerArgs, Init) {
  ServerArgs a;
  ArgsExit exit;
  ASSERT_TRUE(parse({"forward-server", "--init"}, a, exit));
  EXPECT_TRUE(a.init);
  EXPECT_EQ("", a.config);
  ServerArgs b;
  ASSERT_TRUE(parse({"forward-server", "--init", "/srv/tf"}, b, exit));
  EXPECT_TRUE(b.init);
  EXPECT_EQ("/srv/tf", b.config);
  ServerArgs c;
  ASSERT_TRUE(parse({"forward-server", "-v", "x.cfg", "--init"}, c, exit));
  EXPECT_EQ("x.cfg", c.config);
  EXPECT_FALSE(ServerArgs().init);

  ArgsExit two = early_exit(parse_server_args, {"forward-server", "--init", "a", "b"});
  EXPECT_EQ(kExitUsage, two.status);
  EXPECT_EQ(0u, two.err.find("forward-server: --init takes one DIR or CONFIG at most\n")) << two.err;
  for (Argv argv : {Argv{"forward-server", "--init", "-n"}, Argv{"forward-server", "--init", "--daemon"},
                    Argv{"forward-server", "--init", "--syslog"},
                    Argv{"forward-server", "--init", "--pid-file", "p"}}) {
    ArgsExit e = early_exit(parse_server_args, argv);
    EXPECT_EQ(kExitUsage, e.status);
    EXPECT_EQ("forward-server: --init takes no other option but -v\n", e.err);
  }
  std::string u = help_text(parse_server_args, "forward-server");
  EXPECT_NE(std::string::npos, u.find("       forward-server --init [DIR | CONFIG]\n")) << u;
  EXPECT_NE(std::string::npos, u.find("      --init            make the shared key")) << u;
}
