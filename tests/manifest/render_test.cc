#include "manifest/render.h"

#include <gtest/gtest.h>

#include <chrono>

namespace cairn::manifest {
namespace {

using json = cairn::json;

const char* const kCommit = "0123abcd0123abcd0123abcd0123abcd0123abcd";

RenderInput input(std::vector<git::File> files) {
  RenderInput in;
  in.release_namespace = "shop";
  in.release_name = "web";
  in.commit = kCommit;
  in.source_url = "https://git.example.com/shop/app.git";
  in.files = std::move(files);
  return in;
}

// Renders files that must render; fails the test with the errors otherwise.
std::vector<json> ok(std::vector<git::File> files, bool cluster_scope = false) {
  RenderInput in = input(std::move(files));
  in.cluster_scope = cluster_scope;
  auto r = render(in);
  EXPECT_TRUE(r.has_value()) << (r ? "" : to_string(r.error()));
  return r ? r->objects : std::vector<json>{};
}

// Renders files that must fail; returns the errors.
std::vector<RenderError> bad(std::vector<git::File> files, bool cluster_scope = false) {
  RenderInput in = input(std::move(files));
  in.cluster_scope = cluster_scope;
  auto r = render(in);
  EXPECT_FALSE(r.has_value()) << "rendered " << (r ? r->objects.size() : 0) << " objects";
  return r ? std::vector<RenderError>{} : r.error();
}

// The `data` of the one ConfigMap in `yaml` (a mapping under `data:`).
json data_of(const std::string& yaml) {
  auto objs =
      ok({{"cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n" + yaml}});
  return objs.empty() ? json() : objs[0]["data"];
}

// ---- documents and files ----

TEST(Render, MultiDocumentYamlSkipsEmptyAndCommentOnlyDocuments) {
  auto objs = ok({{"deploy/app.yaml",
                   "# leading comment\n"
                   "---\n"
                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
                   "---\n"
                   "---\n"
                   "# only a comment\n"
                   "---\n"
                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"
                   "...\n"
                   "---\n"}});
  ASSERT_EQ(objs.size(), 2u);
  EXPECT_EQ(objs[0]["metadata"]["name"], "a");
  EXPECT_EQ(objs[1]["metadata"]["name"], "b");
}

TEST(Render, EmptyFilesAndNoFilesRenderNothing) {
  EXPECT_TRUE(ok({{"a.yaml", ""}, {"b.yaml", "# nothing here\n"}, {"c.json", ""}}).empty());
  EXPECT_TRUE(ok({}).empty());
}

TEST(Render, OnlyYamlYmlAndJsonFilesAreRead) {
  auto objs = ok({{"a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"},
                  {"b.yml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"},
                  {"c.json", R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}})"},
                  {"README.md", "not: [yaml"},
                  {"values.txt", "garbage"},
                  {"d.yaml.orig", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n"}});
  ASSERT_EQ(objs.size(), 3u);
  EXPECT_EQ(objs[2]["metadata"]["name"], "c");
  EXPECT_TRUE(is_manifest_file("x/y.yml"));
  EXPECT_FALSE(is_manifest_file("x/y.yaml.bak"));
  EXPECT_FALSE(is_manifest_file("Makefile"));
}

TEST(Render, JsonFileWithOneObject) {
  auto objs = ok({{"svc.json", R"({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "web", "labels": {"tier": "front"}},
                   "spec": {"ports": [{"port": 80, "name": "http"}], "selector": {"app": "web"}}})"}});
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs[0]["metadata"]["namespace"], "shop");
  EXPECT_EQ(objs[0]["metadata"]["labels"]["tier"], "front");
  EXPECT_EQ(objs[0]["metadata"]["annotations"]["cairn.dev/path"], "svc.json");
  EXPECT_EQ(objs[0]["spec"]["ports"][0]["port"], 80);
}

TEST(Render, JsonListIsExpanded) {
  auto objs = ok({{"list.json", R"({"apiVersion": "v1", "kind": "List", "items": [
      {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}},
      {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "two"}}]})"}});
  ASSERT_EQ(objs.size(), 2u);
  EXPECT_EQ(objs[0]["metadata"]["name"], "one");
  EXPECT_EQ(objs[1]["kind"], "Secret");
  EXPECT_EQ(objs[1]["metadata"]["annotations"]["cairn.dev/path"], "list.json");
}

TEST(Render, YamlListAndTypedListsAreExpanded) {
  auto objs = ok({{"list.yaml",
                   "apiVersion: v1\nkind: List\nitems:\n"
                   "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: one}\n"
                   "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: two}\n"
                   "---\n"
                   "apiVersion: v1\nkind: ConfigMapList\nitems:\n"
                   "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: three}\n"
                   "---\n"
                   "apiVersion: v1\nkind: List\nitems: []\n"}});
  ASSERT_EQ(objs.size(), 3u);
  EXPECT_EQ(objs[0]["metadata"]["name"], "one");
  EXPECT_EQ(objs[1]["metadata"]["name"], "two");
  EXPECT_EQ(objs[2]["metadata"]["name"], "three");
}

TEST(Render, ErrorsInListItemsNameTheItem) {
  auto errs = bad({{"list.yaml",
                    "apiVersion: v1\nkind: List\nitems:\n"
                    "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: one}\n"
                    "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {}\n"
                    "- just a string\n"
                    "- apiVersion: v1\n  kind: List\n  items: []\n"}});
  ASSERT_EQ(errs.size(), 3u);
  EXPECT_EQ(errs[0].to_string(), "list.yaml:1: document 0: items[1]: no metadata.name");
  EXPECT_EQ(errs[1].message, "items[2]: the item is a string, not a mapping");
  EXPECT_EQ(errs[2].message, "items[3]: a List inside a List is not supported");
  auto errs2 = bad({{"l.yaml", "apiVersion: v1\nkind: List\nitems: {a: 1}\n"}});
  ASSERT_EQ(errs2.size(), 1u);
  EXPECT_EQ(errs2[0].message, "List: items is not a list");
}

TEST(Render, CrlfLineEndingsByteOrderMarkAndDirectives) {
  auto objs = ok({{"win.yaml",
                   "\xEF\xBB\xBF"
                   "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: crlf\r\n"
                   "data:\r\n  a: |\r\n    x\r\n    y\r\n  b: \"80\"\r\n"},
                  {"v12.yaml",
                   "%YAML 1.2\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\n"
                   "data: {a: \"\\u00e9\", b: 'it''s'}\n"}});
  ASSERT_EQ(objs.size(), 2u);
  EXPECT_EQ(objs[0]["data"], json({{"a", "é"}, {"b", "it's"}}));
  EXPECT_EQ(objs[1]["metadata"]["name"], "crlf");
  EXPECT_EQ(objs[1]["data"], json({{"a", "x\ny\n"}, {"b", "80"}}));
}

// ---- errors ----

TEST(Render, YamlSyntaxErrorNamesFileDocumentLineAndColumn) {
  auto errs = bad({{"deploy/app.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                    "---\n"
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"
                    "---\n"
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n   bad: indent\n"}});
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].file, "deploy/app.yaml");
  EXPECT_EQ(errs[0].document, 2);
  EXPECT_EQ(errs[0].line, 13);
  EXPECT_GT(errs[0].column, 0);
  EXPECT_FALSE(errs[0].message.empty());
  EXPECT_EQ(errs[0].to_string().rfind("deploy/app.yaml:13:", 0), 0u) << errs[0].to_string();
  EXPECT_NE(errs[0].to_string().find(": document 2: "), std::string::npos);
}

TEST(Render, UnclosedFlowAndUndefinedAliasAreSyntaxErrors) {
  auto e1 = bad({{"a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a\n"}});
  ASSERT_EQ(e1.size(), 1u);
  EXPECT_EQ(e1[0].document, 0);
  EXPECT_GT(e1[0].line, 0);
  auto e2 =
      bad({{"a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: *nope\n"}});
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_EQ(e2[0].line, 4);
  EXPECT_NE(e2[0].message.find("anchor"), std::string::npos) << e2[0].message;
}

// Found by tests/fuzz/manifest_fuzz.cc: a ',' outside a flow collection made
// yaml-cpp 0.7 return the same empty document for ever (jbeder/yaml-cpp#1040),
// so a one-byte manifest hung a worker of the operator.
TEST(Render, StrayCommaIsASyntaxErrorNotAHang) {
  struct Case {
    std::string yaml;
    int document, line, column;
  };
  for (const Case& c :
       {Case{",", 0, 1, 1}, Case{"- a\n, b\n", 1, 2, 1}, Case{"[a]\n,\n", 1, 2, 1},
        Case{"&x ,", 1, 1, 4}, Case{"--- ,", 1, 1, 5},
        Case{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n,\n", 2, 5, 1}}) {
    auto start = std::chrono::steady_clock::now();
    auto errs = bad({{"a.yaml", c.yaml}});
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
    ASSERT_FALSE(errs.empty()) << c.yaml;  // the documents before it may have errors too
    EXPECT_EQ(errs.back().to_string(),
              "a.yaml:" + std::to_string(c.line) + ":" + std::to_string(c.column) + ": document " +
                  std::to_string(c.document) +
                  ": the YAML parser cannot read past this point (a ',' outside [...] or {...}?); "
                  "fix the syntax here")
        << c.yaml;
  }
}

TEST(Render, JsonSyntaxErrorNamesTheFileAndPositionButNotTheText) {
  auto errs =
      bad({{"s.json",
            "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"s\"},\n"
            " \"stringData\": {\"password\": \"hunter2\n\"}}"}});
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].file, "s.json");
  EXPECT_EQ(errs[0].document, -1);
  EXPECT_NE(errs[0].message.find("line 3"), std::string::npos) << errs[0].message;
  EXPECT_EQ(errs[0].message.find("hunter2"), std::string::npos) << errs[0].message;
  EXPECT_EQ(errs[0].message.find("json.exception"), std::string::npos) << errs[0].message;
  EXPECT_EQ(errs[0].to_string().rfind("s.json: parse error at line 3", 0), 0u)
      << errs[0].to_string();
}

// Found by tests/fuzz/manifest_fuzz.cc: cairn::json throws out_of_range,
// not parse_error, for a number it cannot hold, and it escaped render.
// Found by tests/fuzz/manifest_fuzz.cc: yaml-cpp 0.7 writes \N and \_ as the
// bytes 0x85 and 0xA0, which made objects that could not be written as JSON.
TEST(RenderScalars, NelAndNbspEscapesAreUtf8) {
  json d = data_of("  n: \"a\\Nb\"\n  s: \"a\\_b\"\n  z: \"a\\0b\"\n  e: \"\\x85\"\n");
  EXPECT_EQ(d["n"], "a\u0085b");
  EXPECT_EQ(d["s"], "a\u00a0b");
  EXPECT_EQ(d["z"], std::string("a\0b", 3));
  EXPECT_EQ(d["e"], "\u0085");
  EXPECT_NO_THROW((void)d.dump());
}

TEST(Render, JsonNumberTooLargeIsAnErrorNotAnException) {
  std::vector<RenderError> errs;
  EXPECT_NO_THROW(errs =
                      bad({{"big.json", R"({"apiVersion":"v1","kind":"ConfigMap",)"
                                        R"("metadata":{"name":"n"},"data":{"x":1e66666666}})"}}));
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].to_string(),
            "big.json: a number is too large (beyond +-1.8e308, what JSON numbers can hold)");
}

TEST(Render, DocumentThatIsNotAMapping) {
  auto errs = bad({{"a.yaml", "- a\n- b\n---\njust text\n"}, {"b.json", "[1, 2]"}});
  ASSERT_EQ(errs.size(), 3u);
  EXPECT_EQ(errs[0].to_string(),
            "a.yaml:1: document 0: the document is a list, not a mapping (a Kubernetes object "
            "with apiVersion, kind and metadata.name)");
  EXPECT_EQ(errs[1].document, 1);
  EXPECT_EQ(errs[1].line, 3) << "where its --- is";
  EXPECT_EQ(errs[1].message.rfind("the document is a string, not a mapping", 0), 0u);
  EXPECT_EQ(errs[2].to_string().rfind("b.json: the document is a list, not a mapping", 0), 0u);
}

TEST(Render, MissingFieldsAreNamed) {
  auto errs = bad({{"deploy/app.yaml",
                    "kind: ConfigMap\nmetadata: {name: a}\n"      // 0: no apiVersion
                    "---\napiVersion: v1\nmetadata: {name: b}\n"  // 1: no kind
                    "---\napiVersion: v1\nkind: ConfigMap\n"      // 2: no metadata.name
                    "---\napiVersion: v1\nmetadata: {}\n"         // 3: two missing
                    "---\nfoo: bar\n"                             // 4: not an object
                    "---\napiVersion: v1\nkind: Pod\nmetadata: {generateName: x-}\n"    // 5
                    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ''}\n"}});  // 6
  ASSERT_EQ(errs.size(), 7u);
  EXPECT_EQ(errs[0].to_string(), "deploy/app.yaml:1: document 0: no apiVersion");
  EXPECT_EQ(errs[1].to_string(), "deploy/app.yaml:3: document 1: no kind");
  EXPECT_EQ(errs[2].to_string(), "deploy/app.yaml:6: document 2: no metadata.name");
  EXPECT_EQ(errs[3].message, "no kind or metadata.name");
  EXPECT_EQ(errs[4].message,
            "no apiVersion, kind or metadata.name (not a Kubernetes object: keep only manifests "
            "under the Release's path)");
  EXPECT_EQ(errs[5].message,
            "no metadata.name (generateName is not supported: objects that Cairn applies need a "
            "fixed name)");
  EXPECT_EQ(errs[6].message, "no metadata.name");
}

TEST(Render, FieldsOfTheWrongType) {
  auto errs = bad({{"a.yaml",
                    "apiVersion: 1\nkind: ConfigMap\nmetadata: {name: a}\n"
                    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: [a]\n"
                    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: 7}\n"
                    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: [x]}\n"
                    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: x}\n"
                    "---\napiVersion: a/b/c\nkind: ConfigMap\nmetadata: {name: a}\n"}});
  ASSERT_EQ(errs.size(), 6u);
  EXPECT_EQ(errs[0].message, "apiVersion is a number, not a string");
  EXPECT_EQ(errs[1].message, "metadata is a list, not a mapping");
  EXPECT_EQ(errs[2].message, "metadata.name is a number, not a string");
  EXPECT_EQ(errs[3].message, "ConfigMap a: metadata.namespace is a list, not a string");
  EXPECT_EQ(errs[4].message, "ConfigMap a: metadata.labels is a string, not a mapping");
  EXPECT_EQ(errs[5].message, "apiVersion \"a/b/c\" is not group/version");
}

TEST(Render, KustomizationFilesGetAHint) {
  auto errs = bad({{"deploy/kustomization.yaml", "resources:\n- app.yaml\n"}});
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].message.find("kustomization files are not supported"), std::string::npos);
  EXPECT_NE(errs[0].message.find("kustomize build"), std::string::npos);
}

TEST(Render, EveryBadFileIsReportedTogether) {
  auto errs = bad({{"b.yaml", "apiVersion: v1\nkind: ConfigMap\n"},
                   {"a.yaml", "a: [\n"},
                   {"c.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n"}});
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0].file, "a.yaml") << "files are read in path order";
  EXPECT_EQ(errs[1].file, "b.yaml");
  std::string all = to_string(errs);
  EXPECT_NE(all.find("\nb.yaml:1: document 0: no metadata.name"), std::string::npos) << all;
}

TEST(Render, ErrorsAreCapped) {
  std::string yaml;
  for (int i = 0; i < 150; ++i) yaml += "---\napiVersion: v1\nkind: ConfigMap\n";
  auto errs = bad({{"a.yaml", yaml}});
  ASSERT_EQ(errs.size(), kMaxErrors + 1);
  EXPECT_EQ(errs.back().to_string(), "... and 50 more errors");
}

TEST(Render, LimitsOnDocumentsAndBytes) {
  std::string yaml;
  for (int i = 0; i < 11; ++i) {
    yaml += "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c" + std::to_string(i) + "}\n";
  }
  RenderInput in = input({{"a.yaml", yaml}});
  in.max_documents = 10;
  auto r = render(in);
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].to_string(),
            "more than 10 objects under the Release's path (the limit); split the manifests "
            "across several Releases");
  in.max_documents = 11;
  EXPECT_TRUE(render(in).has_value());

  in.max_bytes = 100;
  r = render(in);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error()[0].message.find("more than the limit of 100"), std::string::npos);
  in.files.push_back({"huge.bin", std::string(1000, 'x')});
  in.max_bytes = yaml.size();
  EXPECT_TRUE(render(in).has_value()) << "only manifest files count";
}

// Issue #9, hostile input: a 50 MiB manifest is refused by its size, before
// it is parsed, with a message that names the file and the limit.
TEST(Render, OversizedFileIsRefusedBeforeParsing) {
  std::string big = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata:\n";
  const std::string line = "  k: " + std::string(70, 'v') + "\n";  // repeated keys, were it parsed
  while (big.size() < (50u << 20)) big += line;
  auto start = std::chrono::steady_clock::now();
  auto errs = bad({{"deploy/big.yaml", big},
                   {"deploy/ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n"}});
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].to_string(),
            "deploy/big.yaml: the file has " + std::to_string(big.size()) +
                " bytes, more than the limit of 8388608 bytes for one manifest file; split it "
                "into smaller files");
  EXPECT_LT(elapsed, std::chrono::seconds(1)) << "refused by its size, not parsed";

  // At the limit it is read.
  std::string at_limit = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: \"";
  at_limit += std::string(kMaxFileBytes - at_limit.size() - 3, 'x') + "\"}\n";
  ASSERT_EQ(at_limit.size(), kMaxFileBytes);
  EXPECT_EQ(ok({{"a.yaml", at_limit}}).size(), 1u);
}

// Objects are sent as JSON: a file that is not UTF-8 is refused with the
// place of the first bad byte (yaml-cpp passes such bytes through).
TEST(Render, FilesThatAreNotUtf8AreRefused) {
  auto errs =
      bad({{"bin.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bin}\ndata: {x: \"\xff\"}\n"}});
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].to_string(),
            "bin.yaml:4: the file is not UTF-8 text (byte 65 is not part of a UTF-8 character); "
            "save it as UTF-8");
  // Truncated, overlong and surrogate forms are refused too; real UTF-8 is fine.
  for (const char* bytes : {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    auto e = bad({{"a.yaml", std::string("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                                         "data: {x: \"") +
                                 bytes + "\"}\n"}});
    ASSERT_EQ(e.size(), 1u) << bytes;
    EXPECT_NE(e[0].message.find("not UTF-8 text"), std::string::npos) << e[0].message;
  }
  // NUL bytes: yaml-cpp would read the file as UTF-16 or UTF-32 (found by
  // tests/fuzz/manifest_fuzz.cc: leading NULs made it decode garbage).
  const std::string utf16 = std::string("a\0p\0i\0V\0", 8);
  auto nul = bad({{"utf16.yaml", utf16}});
  ASSERT_EQ(nul.size(), 1u);
  EXPECT_EQ(nul[0].to_string(),
            "utf16.yaml:1: the file is not UTF-8 text (byte 2 is a NUL); save it as UTF-8");
  // yaml-cpp quotes one byte of the input in some messages: the message
  // stays ASCII (it goes into a condition, which is JSON).
  auto esc = bad({{"esc.yaml",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                   "data: {x: \"\\\xc3\xa9\"}\n"}});
  ASSERT_EQ(esc.size(), 1u);
  EXPECT_EQ(esc[0].message, "unknown escape character: ?");
  auto objs = ok({{"a.yaml",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                   "data: {x: \"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\"}\n"}});
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs[0]["data"]["x"], "\u00e9\u4e2d\U0001F600");
}

// ---- namespaces and scope ----

TEST(Render, NamespacedObjectsGetTheReleaseNamespace) {
  auto objs = ok({{"a.yaml",
                   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                   "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n"
                   "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d, namespace: ''}\n"
                   "---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"}});
  ASSERT_EQ(objs.size(), 4u);
  for (const auto& o : objs) EXPECT_EQ(o["metadata"]["namespace"], "shop") << o.dump();
}

TEST(Render, OtherNamespacesNeedClusterScope) {
  const std::string yaml =
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: other}\n";
  auto errs = bad({{"deploy/cm.yaml", yaml}});
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].to_string(),
            "deploy/cm.yaml:1: document 0: ConfigMap c is in namespace \"other\", not the "
            "Release's namespace \"shop\": set spec.clusterScope: true on the Release to manage "
            "other namespaces, or move the object to namespace \"shop\" (or leave "
            "metadata.namespace out)");
  auto objs = ok({{"deploy/cm.yaml", yaml}}, /*cluster_scope=*/true);
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs[0]["metadata"]["namespace"], "other");
}

TEST(Render, ClusterScopedObjectsNeedClusterScope) {
  const std::string yaml =
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop-extra}\n"
      "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"
      "metadata: {name: reader, namespace: shop}\n";
  auto errs = bad({{"a.yaml", yaml}});
  ASSERT_EQ(errs.size(), 2u);
  EXPECT_EQ(errs[0].message,
            "Namespace shop-extra is cluster-scoped: set spec.clusterScope: true on the Release "
            "to manage cluster-scoped objects, or move the object to a Release that has it");
  EXPECT_EQ(errs[1].document, 1);
  EXPECT_EQ(errs[1].message.rfind("ClusterRole reader is cluster-scoped", 0), 0u);

  auto objs = ok({{"a.yaml", yaml}}, /*cluster_scope=*/true);
  ASSERT_EQ(objs.size(), 2u);
  EXPECT_FALSE(objs[0]["metadata"].contains("namespace"));
  EXPECT_FALSE(objs[1]["metadata"].contains("namespace")) << "the apiserver ignores it anyway";
}

TEST(Render, DiscoveryCanOverrideTheBuiltInScopeList) {
  RenderInput in = input({{"a.yaml",
                           "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: p}\n"
                           "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"}});
  in.is_namespaced = [](const std::string& api_version,
                        const std::string& kind) -> std::optional<bool> {
    if (api_version == "kyverno.io/v1" && kind == "ClusterPolicy") return false;
    return std::nullopt;
  };
  auto r = render(in);
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].message.rfind("ClusterPolicy p is cluster-scoped", 0), 0u);
  in.cluster_scope = true;
  r = render(in);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->objects[1]["metadata"].contains("namespace"));
  EXPECT_EQ(r->objects[0]["metadata"]["namespace"], "shop");
}

TEST(Render, BuiltInClusterScopedKinds) {
  EXPECT_TRUE(is_cluster_scoped_kind("v1", "Namespace"));
  EXPECT_TRUE(is_cluster_scoped_kind("v1", "Node"));
  EXPECT_TRUE(is_cluster_scoped_kind("v1", "PersistentVolume"));
  EXPECT_TRUE(is_cluster_scoped_kind("rbac.authorization.k8s.io/v1", "ClusterRole"));
  EXPECT_TRUE(is_cluster_scoped_kind("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding"));
  EXPECT_TRUE(is_cluster_scoped_kind("apiextensions.k8s.io/v1", "CustomResourceDefinition"));
  EXPECT_TRUE(is_cluster_scoped_kind("storage.k8s.io/v1", "StorageClass"));
  EXPECT_TRUE(is_cluster_scoped_kind("storage.k8s.io/v1", "CSIDriver"));
  EXPECT_TRUE(is_cluster_scoped_kind("scheduling.k8s.io/v1", "PriorityClass"));
  EXPECT_TRUE(
      is_cluster_scoped_kind("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"));
  EXPECT_TRUE(
      is_cluster_scoped_kind("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"));
  EXPECT_TRUE(is_cluster_scoped_kind("apiregistration.k8s.io/v1", "APIService"));
  EXPECT_TRUE(is_cluster_scoped_kind("networking.k8s.io/v1", "IngressClass"));
  EXPECT_TRUE(is_cluster_scoped_kind("node.k8s.io/v1", "RuntimeClass"));
  EXPECT_FALSE(is_cluster_scoped_kind("v1", "ConfigMap"));
  EXPECT_FALSE(is_cluster_scoped_kind("rbac.authorization.k8s.io/v1", "Role"));
  EXPECT_FALSE(is_cluster_scoped_kind("networking.k8s.io/v1", "Ingress"));
  EXPECT_FALSE(is_cluster_scoped_kind("example.com/v1", "Namespace")) << "by group and kind";
  EXPECT_FALSE(is_cluster_scoped_kind("example.com/v1", "Widget"));
}

// ---- duplicates ----

TEST(Render, DuplicatesNameBothPlaces) {
  auto errs = bad({{"a.yaml",
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"},
                   {"b/c.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
                    "---\n"
                    "apiVersion: apps/v1beta2\nkind: Deployment\n"
                    "metadata: {name: web, namespace: shop}\n"}});
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].to_string(),
            "b/c.yaml:4: document 1: Deployment shop/web is defined twice: also in a.yaml "
            "document 0");
}

TEST(Render, DuplicatesAcrossJsonAndListItems) {
  auto errs = bad({{"a.json", R"({"apiVersion":"v1","kind":"List","items":[
          {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}]})"},
                   {"b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"}});
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].message, "ConfigMap shop/c is defined twice: also in a.json items[0]");
}

TEST(Render, SameNameInOtherKindsGroupsOrNamespacesIsFine) {
  auto objs = ok({{"a.yaml",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"
                   "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                   "---\napiVersion: example.com/v1\nkind: Service\nmetadata: {name: web}\n"
                   "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: b}\n"}},
                 /*cluster_scope=*/true);
  EXPECT_EQ(objs.size(), 4u);
}

// ---- identity ----

TEST(Render, IdentityLeavesOutTheVersion) {
  json d = {{"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata", {{"name", "web"}, {"namespace", "shop"}}}};
  EXPECT_EQ(identity(d), "apps/Deployment/shop/web");
  json c = {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"metadata", {{"name", "c"}, {"namespace", "shop"}}}};
  EXPECT_EQ(identity(c), "/ConfigMap/shop/c");
  json r = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", "ClusterRole"},
            {"metadata", {{"name", "view"}}}};
  EXPECT_EQ(identity(r), "rbac.authorization.k8s.io/ClusterRole//view");
  api::InventoryEntry e = inventory_entry(d);
  EXPECT_EQ(e, (api::InventoryEntry{"apps/v1", "Deployment", "shop", "web"}));
  EXPECT_EQ(identity(api::InventoryEntry{"apps/v1beta1", "Deployment", "shop", "web"}),
            identity(d));
  EXPECT_EQ(api_group("apps/v1"), "apps");
  EXPECT_EQ(api_group("v1"), "");
}

// ---- stamping ----

TEST(Render, EveryObjectIsStamped) {
  auto objs = ok({{"deploy/production/app.yaml",
                   "apiVersion: apps/v1\nkind: Deployment\n"
                   "metadata:\n  name: web\n  labels: {app: web}\n"
                   "  annotations:\n    keep: me\n    cairn.dev/commit: forged\n"
                   "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n"
                   "  labels:\n"
                   "stringData: {password: hunter2}\n"}});
  ASSERT_EQ(objs.size(), 2u);
  for (const auto& o : objs) {
    const auto& a = o["metadata"]["annotations"];
    EXPECT_EQ(a["cairn.dev/commit"], kCommit);
    EXPECT_EQ(a["cairn.dev/source"], "https://git.example.com/shop/app.git");
    EXPECT_EQ(a["cairn.dev/path"], "deploy/production/app.yaml");
    EXPECT_EQ(a["cairn.dev/release"], "shop/web");
    EXPECT_EQ(o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "cairn");
  }
  const json& secret = objs[0]["kind"] == "Secret" ? objs[0] : objs[1];
  const json& deploy = objs[0]["kind"] == "Secret" ? objs[1] : objs[0];
  EXPECT_EQ(deploy["metadata"]["annotations"]["keep"], "me");
  EXPECT_EQ(deploy["metadata"]["labels"]["app"], "web");
  EXPECT_EQ(secret["stringData"]["password"], "hunter2") << "Secrets are applied as written";
}

TEST(Render, PodTemplatesAreNotStamped) {
  auto objs = ok({{"a.yaml",
                   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                   "spec:\n  template:\n    metadata:\n      labels: {app: web}\n"}});
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs[0]["spec"]["template"]["metadata"], json({{"labels", {{"app", "web"}}}}))
      << "stamping the template would restart every pod on every commit";
}

TEST(Render, SecretValuesNeverAppearInErrors) {
  const std::string secret = "s3cr3t-value-XYZ";
  std::vector<git::File> files = {
      {"a.yaml",
       "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: other}\n"
       "stringData: {password: " +
           secret + "}\n"},
      {"b.yaml",
       "apiVersion: v1\nkind: Secret\nmetadata: {name: t}\n"
       "stringData: {password: " +
           secret + ", password: " + secret + "}\n"},
      {"c.yaml",
       "apiVersion: v1\nkind: Secret\nmetadata: {name: u}\n"
       "stringData: {password: \"" +
           secret + "\\q\"}\n"},
      {"d.yaml",
       "apiVersion: v1\nkind: Secret\nmetadata: {name: v}\n"
       "stringData: {password: !!int " +
           secret + "}\n"},
      {"e.json",
       "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"w\"},"
       " \"stringData\": {\"password\": \"" +
           secret + "\\q\"}}"},
  };
  auto errs = bad(files);
  ASSERT_EQ(errs.size(), 5u) << to_string(errs);
  for (const auto& e : errs) {
    EXPECT_EQ(e.to_string().find("s3cr3t"), std::string::npos) << e.to_string();
  }
}

// ---- ordering ----

TEST(Render, ApplyRanks) {
  EXPECT_LT(apply_rank("Namespace"), apply_rank("CustomResourceDefinition"));
  EXPECT_LT(apply_rank("CustomResourceDefinition"), apply_rank("ServiceAccount"));
  EXPECT_LT(apply_rank("PriorityClass"), apply_rank("Deployment"));
  EXPECT_LT(apply_rank("ServiceAccount"), apply_rank("Role"));
  EXPECT_EQ(apply_rank("Role"), apply_rank("ClusterRole"));
  EXPECT_LT(apply_rank("ClusterRole"), apply_rank("ClusterRoleBinding"));
  EXPECT_EQ(apply_rank("RoleBinding"), apply_rank("ClusterRoleBinding"));
  EXPECT_LT(apply_rank("RoleBinding"), apply_rank("ConfigMap"));
  EXPECT_EQ(apply_rank("ConfigMap"), apply_rank("Secret"));
  EXPECT_LT(apply_rank("Secret"), apply_rank("PersistentVolumeClaim"));
  EXPECT_LT(apply_rank("PersistentVolumeClaim"), apply_rank("Service"));
  EXPECT_LT(apply_rank("Service"), apply_rank("Deployment"));
  for (const char* w : {"StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet"}) {
    EXPECT_EQ(apply_rank(w), apply_rank("Deployment")) << w;
  }
  EXPECT_LT(apply_rank("Deployment"), apply_rank("HorizontalPodAutoscaler"));
  EXPECT_LT(apply_rank("Ingress"), apply_rank("Widget"));
  EXPECT_EQ(apply_rank("Widget"), apply_rank("Certificate"));
  EXPECT_LT(apply_rank("Widget"), apply_rank("ValidatingWebhookConfiguration"));
  EXPECT_EQ(apply_rank("MutatingWebhookConfiguration"), apply_rank("APIService"));
}

TEST(Render, ObjectsAreSortedByRankThenPathThenDocument) {
  auto objs =
      ok({{"z.yaml",
           "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n"
           "metadata: {name: hook}\n"
           "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: z-web}\n"
           "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"},
          {"a.yaml",
           "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"
           "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a-web2}\n"
           "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a-web1}\n"
           "---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\n"},
          {"m.json",
           R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
            "metadata":{"name":"widgets.example.com"}})"},
          {"b.yaml",
           "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\n"
           "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n"
           "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n"
           "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"}},
         /*cluster_scope=*/true);
  std::vector<std::string> names;
  for (const auto& o : objs) names.push_back(o["metadata"]["name"].get<std::string>());
  EXPECT_EQ(names, (std::vector<std::string>{"shop", "widgets.example.com", "sa", "r", "rb", "cm",
                                             "web", "a-web2", "a-web1", "z-web", "w", "hook"}));
  // Deterministic whatever order the files come in.
  RenderInput in = input({});
  in.cluster_scope = true;
  auto a = render(input({{"x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"},
                         {"w.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w}\n"}}));
  auto b = render(input({{"w.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: w}\n"},
                         {"x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"}}));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->objects, b->objects);
  EXPECT_EQ(a->objects[0]["metadata"]["name"], "w");
}

// ---- scalars ----

TEST(RenderScalars, QuotedScalarsAreStringsPlainOnesAreTyped) {
  json d = data_of(
      "  plain_int: 80\n"
      "  quoted_int: \"80\"\n"
      "  single_quoted: '80'\n"
      "  plain_true: true\n"
      "  quoted_true: \"true\"\n"
      "  plain_True: True\n"
      "  plain_FALSE: FALSE\n"
      "  yes: yes\n"
      "  no: no\n"
      "  on: on\n"
      "  off: Off\n"
      "  y: y\n"
      "  float: 1.5\n"
      "  version: 1.10\n"
      "  semver: 1.2.3\n"
      "  exp: 1e3\n"
      "  dotfloat: .5\n"
      "  negative: -42\n"
      "  plus: +7\n"
      "  null_word: null\n"
      "  tilde: ~\n"
      "  empty:\n"
      "  quoted_null: \"null\"\n"
      "  block: |\n    80\n"
      "  folded: >\n    true\n"
      "  date: 2024-05-01\n"
      "  time: 12:30\n"
      "  str_tag: !!str 80\n"
      "  int_tag: !!int \"80\"\n"
      "  float_tag: !!float 3\n"
      "  bool_tag: !!bool \"false\"\n"
      "  bang: ! 80\n");
  EXPECT_EQ(d["plain_int"], json(80));
  EXPECT_TRUE(d["plain_int"].is_number_integer());
  EXPECT_EQ(d["quoted_int"], json("80"));
  EXPECT_EQ(d["single_quoted"], json("80"));
  EXPECT_EQ(d["plain_true"], json(true));
  EXPECT_EQ(d["quoted_true"], json("true"));
  EXPECT_EQ(d["plain_True"], json(true));
  EXPECT_EQ(d["plain_FALSE"], json(false));
  EXPECT_EQ(d["yes"], json("yes")) << "YAML 1.2: yes is a string";
  EXPECT_EQ(d["no"], json("no"));
  EXPECT_EQ(d["on"], json("on"));
  EXPECT_EQ(d["off"], json("Off"));
  EXPECT_EQ(d["y"], json("y"));
  EXPECT_EQ(d["float"], json(1.5));
  EXPECT_TRUE(d["version"].is_number_float());
  EXPECT_DOUBLE_EQ(d["version"].get<double>(), 1.1);
  EXPECT_EQ(d["semver"], json("1.2.3"));
  EXPECT_DOUBLE_EQ(d["exp"].get<double>(), 1000.0);
  EXPECT_TRUE(d["exp"].is_number_float());
  EXPECT_DOUBLE_EQ(d["dotfloat"].get<double>(), 0.5);
  EXPECT_EQ(d["negative"], json(-42));
  EXPECT_EQ(d["plus"], json(7));
  EXPECT_TRUE(d["null_word"].is_null());
  EXPECT_TRUE(d["tilde"].is_null());
  EXPECT_TRUE(d.contains("empty") && d["empty"].is_null());
  EXPECT_EQ(d["quoted_null"], json("null"));
  EXPECT_EQ(d["block"], json("80\n"));
  EXPECT_EQ(d["folded"], json("true\n"));
  EXPECT_EQ(d["date"], json("2024-05-01")) << "timestamps stay strings, as in sigs.k8s.io/yaml";
  EXPECT_EQ(d["time"], json("12:30"));
  EXPECT_EQ(d["str_tag"], json("80"));
  EXPECT_EQ(d["int_tag"], json(80));
  EXPECT_TRUE(d["float_tag"].is_number_float());
  EXPECT_EQ(d["bool_tag"], json(false));
  EXPECT_EQ(d["bang"], json("80"));
}

TEST(RenderScalars, IntegerForms) {
  json d = data_of(
      "  octal: 0644\n"
      "  octal_o: 0o17\n"
      "  hex: 0x1F\n"
      "  binary: 0b101\n"
      "  underscores: 1_000_000\n"
      "  zero: 0\n"
      "  int64_max: 9223372036854775807\n"
      "  int64_min: -9223372036854775808\n"
      "  uint64: 18446744073709551615\n"
      "  beyond: 18446744073709551616\n"
      "  not_octal: 089\n"
      "  sign_only: '-'\n"
      "  word: -foo\n");
  EXPECT_EQ(d["octal"], json(420)) << "defaultMode: 0644 is octal, as kubectl reads it";
  EXPECT_EQ(d["octal_o"], json(15));
  EXPECT_EQ(d["hex"], json(31));
  EXPECT_EQ(d["binary"], json(5));
  EXPECT_EQ(d["underscores"], json(1000000));
  EXPECT_EQ(d["zero"], json(0));
  EXPECT_EQ(d["int64_max"].get<std::int64_t>(), INT64_MAX);
  EXPECT_EQ(d["int64_min"].get<std::int64_t>(), INT64_MIN);
  EXPECT_TRUE(d["uint64"].is_number_unsigned());
  EXPECT_EQ(d["uint64"].get<std::uint64_t>(), UINT64_MAX);
  EXPECT_TRUE(d["beyond"].is_number_float()) << "as Go: past uint64 a number is a float";
  EXPECT_DOUBLE_EQ(d["beyond"].get<double>(), 18446744073709551616.0);
  EXPECT_TRUE(d["not_octal"].is_number_float());
  EXPECT_EQ(d["word"], json("-foo"));
  // Round-trips through JSON with the same types.
  EXPECT_EQ(json::parse(d.dump()), d);
}

TEST(RenderScalars, KeysAreStrings) {
  json d = data_of("  80: a\n  true: b\n  yes: c\n  \"90\": d\n  0x10: e\n");
  EXPECT_EQ(d, json({{"80", "a"}, {"true", "b"}, {"yes", "c"}, {"90", "d"}, {"16", "e"}}));
}

TEST(RenderScalars, JsonKeepsItsTypes) {
  auto objs = ok({{"c.json",
                   R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},
                       "data":{"a":"80","b":80,"c":"true","d":true,"e":1.5,"f":null,
                               "g":18446744073709551615}})"}});
  ASSERT_EQ(objs.size(), 1u);
  const json& d = objs[0]["data"];
  EXPECT_EQ(d["a"], json("80"));
  EXPECT_EQ(d["b"], json(80));
  EXPECT_EQ(d["c"], json("true"));
  EXPECT_EQ(d["d"], json(true));
  EXPECT_EQ(d["e"], json(1.5));
  EXPECT_TRUE(d["f"].is_null());
  EXPECT_TRUE(d["g"].is_number_unsigned());
}

TEST(RenderScalars, InfinityNanAndUnknownTagsAreRefused) {
  auto e1 =
      bad({{"a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: .inf}\n"}});
  ASSERT_EQ(e1.size(), 1u);
  EXPECT_EQ(e1[0].line, 4);
  EXPECT_NE(e1[0].message.find("cannot be represented in JSON"), std::string::npos);
  auto e2 = bad(
      {{"a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: !Ref y}\n"}});
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_EQ(e2[0].message, "unsupported tag !Ref");
  auto e3 = bad(
      {{"a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: !!int abc}\n"}});
  ASSERT_EQ(e3.size(), 1u);
  EXPECT_EQ(e3[0].message, "the value tagged !!int is not a valid int");
  auto e4 =
      bad({{"a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: !!set {x}\n"}});
  ASSERT_EQ(e4.size(), 1u);
  EXPECT_EQ(e4[0].message, "unsupported tag tag:yaml.org,2002:set");
}

TEST(RenderScalars, RepeatedKeysComplexKeysAndNullKeysAreRefused) {
  auto e1 = bad({{"a.yaml",
                  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                  "data:\n  x: 1\n  y: 2\n  x: 3\n"}});
  ASSERT_EQ(e1.size(), 1u);
  EXPECT_EQ(e1[0].to_string(), "a.yaml:7:6: document 0: mapping key \"x\" is repeated");
  auto e2 = bad({{"a.yaml",
                  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                  "data:\n  ? [a, b]\n  : 1\n"}});
  ASSERT_EQ(e2.size(), 1u);
  EXPECT_EQ(e2[0].message, "a mapping or list as a mapping key is not supported");
  auto e3 = bad({{"a.yaml",
                  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                  "data:\n  ~: 1\n"}});
  ASSERT_EQ(e3.size(), 1u);
  EXPECT_EQ(e3[0].message, "a mapping key is null");
}

// ---- anchors, aliases, merge keys ----

TEST(RenderAliases, AnchorsAliasesAndMergeKeysAreExpanded) {
  auto objs = ok({{"a.yaml",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                   "data:\n"
                   "  base: &base {a: \"1\", b: \"2\"}\n"
                   "  copy: *base\n"
                   "  merged:\n    <<: *base\n    b: \"3\"\n    c: \"4\"\n"
                   "  merged_after:\n    b: \"5\"\n    <<: [*base, {d: \"6\"}]\n"
                   "  s: &s hello\n"
                   "  t: *s\n"
                   "  literal: {\"<<\": x}\n"}});
  ASSERT_EQ(objs.size(), 1u);
  const json& d = objs[0]["data"];
  EXPECT_EQ(d["copy"], json({{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(d["merged"], json({{"a", "1"}, {"b", "3"}, {"c", "4"}})) << "explicit keys win";
  EXPECT_EQ(d["merged_after"], json({{"a", "1"}, {"b", "5"}, {"d", "6"}}));
  EXPECT_EQ(d["t"], json("hello"));
  EXPECT_EQ(d["literal"], json({{"<<", "x"}})) << "a quoted << is an ordinary key";
  auto e = bad({{"a.yaml",
                 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                 "data:\n  <<: 5\n"}});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].message, "the value of a merge key (<<) must be a mapping or a list of mappings");
}

TEST(RenderAliases, BillionLaughsIsRefusedFast) {
  std::string yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n";
  yaml += "  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c) {
    yaml += std::string("  ") + c + ": &" + c + " [";
    for (int i = 0; i < 9; ++i) yaml += std::string(i ? "," : "") + "*" + prev;
    yaml += "]\n";
    prev = c;
  }
  auto start = std::chrono::steady_clock::now();
  auto errs = bad({{"bomb.yaml", yaml}});
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].file, "bomb.yaml");
  EXPECT_EQ(errs[0].document, 0);
  EXPECT_NE(errs[0].message.find("anchors and aliases expand to more than 1000000 nodes"),
            std::string::npos)
      << errs[0].message;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(RenderAliases, RecursiveAliasIsRefused) {
  auto errs = bad({{"a.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"
                    "data: &x {self: *x}\n"}});
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_NE(errs[0].message.find("recursive alias"), std::string::npos) << errs[0].message;
}

TEST(RenderAliases, DeepNestingIsRefusedFast) {
  const std::string head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n  x: ";
  // 98 more levels inside data (depth 2): 100 in all is fine.
  auto ok_objs = ok({{"a.yaml", head + std::string(98, '[') + std::string(98, ']') + "\n"}});
  EXPECT_EQ(ok_objs.size(), 1u);

  auto start = std::chrono::steady_clock::now();
  auto errs = bad({{"a.yaml", head + std::string(100000, '[') + std::string(100000, ']') + "\n"}});
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(errs.size(), 1u);
  EXPECT_EQ(errs[0].message, "nesting deeper than 100 levels");
  EXPECT_EQ(errs[0].line, 5);
  EXPECT_LT(elapsed, std::chrono::seconds(1));

  // Through an alias: the copy would nest too deep.
  auto errs2 =
      bad({{"a.yaml", head + "&d " + std::string(60, '[') + std::string(60, ']') +
                          "\n  y: " + std::string(40, '[') + "*d" + std::string(40, ']') + "\n"}});
  ASSERT_EQ(errs2.size(), 1u);
  EXPECT_EQ(errs2[0].message, "nesting deeper than 100 levels");

  const std::string json_head =
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":)";
  EXPECT_EQ(ok({{"ok.json", json_head + std::string(99, '[') + std::string(99, ']') + "}"}}).size(),
            1u)
      << "100 levels in JSON too";
  auto errs3 = bad({{"deep.json", std::string(200000, '[') + std::string(200000, ']')}});
  ASSERT_EQ(errs3.size(), 1u);
  EXPECT_EQ(errs3[0].to_string(), "deep.json: nesting deeper than 100 levels");
}

// Issue #9: 100,000 levels of flow mappings (and of mixed mappings and
// sequences) are refused at the limit, without recursing through them.
TEST(RenderAliases, DeepFlowMappingsAreRefusedFast) {
  const std::string head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n  x: ";
  std::string maps, mixed;
  for (int i = 0; i < 100000; ++i) maps += "{a: ";
  maps += "1" + std::string(100000, '}');
  for (int i = 0; i < 50000; ++i) mixed += "{a: [";
  mixed += "1" + [] {
    std::string close;
    for (int i = 0; i < 50000; ++i) close += "]}";
    return close;
  }();
  for (const std::string& body : {maps, mixed}) {
    auto start = std::chrono::steady_clock::now();
    auto errs = bad({{"a.yaml", head + body + "\n"}});
    auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(errs.size(), 1u);
    EXPECT_EQ(errs[0].to_string(), "a.yaml:5:" + std::to_string(errs[0].column) +
                                       ": document 0: nesting deeper than 100 levels");
    EXPECT_LT(elapsed, std::chrono::seconds(1));
  }
}

// ---- Server-side apply defaults ----

TEST(Render, ServicePortsGetAProtocol) {
  auto objs = ok({{"svc.yaml",
                   "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                   "spec:\n  ports:\n  - port: 80\n  - port: 53\n    protocol: UDP\n"
                   "  - port: 81\n    protocol: null\n"}});
  ASSERT_EQ(objs.size(), 1u);
  const json& ports = objs[0]["spec"]["ports"];
  EXPECT_EQ(ports[0]["protocol"], "TCP");
  EXPECT_EQ(ports[1]["protocol"], "UDP");
  EXPECT_EQ(ports[2]["protocol"], "TCP");
}

TEST(Render, ContainerPortsGetAProtocolInPodTemplates) {
  const std::string containers =
      "containers:\n- name: app\n  ports:\n  - containerPort: 8080\n  - containerPort: 53\n"
      "    protocol: UDP\ninitContainers:\n- name: init\n  ports:\n  - containerPort: 9000\n";
  auto indent = [](const std::string& s, int n) {
    std::string out, pad(n, ' ');
    std::size_t start = 0;
    while (start < s.size()) {
      auto end = s.find('\n', start);
      out += pad + s.substr(start, end - start + 1);
      start = end + 1;
    }
    return out;
  };
  auto objs = ok(
      {{"w.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
        "spec:\n  template:\n    spec:\n" +
            indent(containers, 6) +
            "---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\n"
            "spec:\n  template:\n    spec:\n" +
            indent(containers, 6) +
            "---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds}\n"
            "spec:\n  template:\n    spec:\n" +
            indent(containers, 6) +
            "---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n"
            "spec:\n  template:\n    spec:\n" +
            indent(containers, 6) +
            "---\napiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: cj}\n"
            "spec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n" +
            indent(containers, 10) +
            "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n" + indent(containers, 2) +
            "---\napiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: cr}\n"
            "spec:\n  template:\n    spec:\n" +
            indent(containers, 6)}});
  ASSERT_EQ(objs.size(), 7u);
  for (const auto& o : objs) {
    const std::string name = o["metadata"]["name"];
    const json* spec = &o["spec"];
    if (name == "cj")
      spec = &o["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    else if (name != "p")
      spec = &o["spec"]["template"]["spec"];
    const json& ports = (*spec)["containers"][0]["ports"];
    const json& init = (*spec)["initContainers"][0]["ports"];
    if (name == "cr") {
      EXPECT_FALSE(ports[0].contains("protocol")) << "custom resources are left alone";
      continue;
    }
    EXPECT_EQ(ports[0]["protocol"], "TCP") << name;
    EXPECT_EQ(ports[1]["protocol"], "UDP") << name;
    EXPECT_EQ(init[0]["protocol"], "TCP") << name;
  }
}

}  // namespace
}  // namespace cairn::manifest
