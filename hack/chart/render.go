// render renders a Helm chart the way `helm template` does, for the part of
// Helm that Cairn's chart uses: no helm binary can be installed here
// (shared/design.md), so the chart is rendered with Go's text/template and
// sprig, which is what Helm itself renders with.
//
//	render --chart charts/cairn --namespace NS --release-name NAME
//	       [-f values.yaml ...] [--set a.b=c ...] [--set-string a.b=c ...]
//	       [--kube-version v1.20.2] [--api-versions GROUP/VERSION ...]
//	       [--include-crds] [--output-dir DIR]
//
// What it implements of Helm 3:
//   - .Values: values.yaml deep-merged with each -f file, then --set and
//     --set-string (Helm's strvals syntax: a.b=c, a[0]=x, {x,y} lists, commas;
//     a null value deletes the key); numbers from YAML files are float64, as
//     in Helm (which reads values through JSON).
//   - values.schema.json: checked before rendering with the JSON-schema
//     keywords listed in schemaKeywords below; a schema using any other
//     keyword is refused rather than silently half-checked.
//   - .Release.{Name,Namespace,Service,IsInstall,IsUpgrade,Revision},
//     .Chart.{Name,Version,AppVersion,Description,Type,KubeVersion},
//     .Capabilities.KubeVersion.{Version,GitVersion,Major,Minor} (and its
//     String), .Capabilities.APIVersions.Has (only what --api-versions
//     lists), .Template.{Name,BasePath}, .Files.Get/GetBytes.
//   - sprig's TxtFuncMap without env/expandenv (as Helm), plus include, tpl,
//     required, fail, toYaml, fromYaml, toJson, fromJson and lookup (which,
//     like `helm template`, finds nothing; with --lookup-objects FILE, a
//     `kubectl get -o json` of the live objects, it finds them there, as
//     `helm upgrade` would in the cluster).
//   - missingkey=zero and "<no value>" removed; templates/_* are partials;
//     NOTES.txt rendered on its own; crds/ copied verbatim; Chart.yaml's
//     kubeVersion checked; every rendered document must parse as YAML; the
//     documents are sorted in Helm's install order.
//
// Output: the manifests on stdout (each "---\n# Source: <file>"); with
// --output-dir also DIR/manifests.yaml, DIR/templates/<file>, DIR/crds/<file>
// and DIR/NOTES.txt.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v2"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// ChartMeta is the part of Chart.yaml that templates see as .Chart.
type ChartMeta struct {
	APIVersion  string   `yaml:"apiVersion"`
	Name        string   `yaml:"name"`
	Version     string   `yaml:"version"`
	AppVersion  string   `yaml:"appVersion"`
	Description string   `yaml:"description"`
	Type        string   `yaml:"type"`
	KubeVersion string   `yaml:"kubeVersion"`
	Keywords    []string `yaml:"keywords"`
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version, GitVersion, Major, Minor string
}

func (k KubeVersion) String() string { return k.Version }

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has reports whether a group/version (or group/version/Kind) was given.
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// Capabilities is .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
}

// Files is .Files: the chart's files other than templates.
type Files struct{ dir string }

// Get returns a file's content, or "" if it cannot be read (as Helm).
func (f Files) Get(name string) string { return string(f.GetBytes(name)) }

// GetBytes returns a file's content, or nil.
func (f Files) GetBytes(name string) []byte {
	clean := filepath.Clean(name)
	if strings.HasPrefix(clean, "..") || filepath.IsAbs(clean) ||
		strings.HasPrefix(clean, "templates"+string(filepath.Separator)) {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(f.dir, clean))
	if err != nil {
		return nil
	}
	return b
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "render: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	var (
		chartDir, ns, releaseName, outDir, kubeVersion, lookupFile string
		includeCRDs                                                bool
		valueFiles, sets, setStrings, apiVersions                  multiFlag
	)
	flag.StringVar(&chartDir, "chart", "", "chart directory")
	flag.StringVar(&ns, "namespace", "default", "release namespace")
	flag.StringVar(&releaseName, "release-name", "", "release name")
	flag.StringVar(&outDir, "output-dir", "", "also write the rendered files here")
	flag.StringVar(&kubeVersion, "kube-version", "v1.20.2", ".Capabilities.KubeVersion")
	flag.BoolVar(&includeCRDs, "include-crds", false, "print crds/ first on stdout")
	flag.StringVar(&lookupFile, "lookup-objects", "", "kubectl get -o json output (an object or a List) that lookup answers from")
	flag.Var(&valueFiles, "f", "values file (repeatable)")
	flag.Var(&valueFiles, "values", "values file (repeatable)")
	flag.Var(&sets, "set", "a.b=c (repeatable)")
	flag.Var(&setStrings, "set-string", "a.b=c, always a string (repeatable)")
	flag.Var(&apiVersions, "api-versions", "group/version for .Capabilities.APIVersions.Has (repeatable)")
	flag.Parse()
	if chartDir == "" || releaseName == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: render --chart DIR --release-name NAME [--namespace NS] "+
			"[-f FILE ...] [--set K=V ...] [--set-string K=V ...] [--kube-version V] "+
			"[--api-versions G/V ...] [--include-crds] [--output-dir DIR] [--lookup-objects FILE]")
		os.Exit(2)
	}
	var lookupObjects []map[string]interface{}
	if lookupFile != "" {
		b, err := os.ReadFile(lookupFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "render: --lookup-objects: %v\n", err)
			os.Exit(1)
		}
		var top map[string]interface{}
		if err := json.Unmarshal(b, &top); err != nil {
			fmt.Fprintf(os.Stderr, "render: --lookup-objects %s is not kubectl's JSON: %v\n", lookupFile, err)
			os.Exit(1)
		}
		if items, ok := top["items"].([]interface{}); ok {
			for _, it := range items {
				if m, ok := it.(map[string]interface{}); ok {
					lookupObjects = append(lookupObjects, m)
				}
			}
		} else {
			lookupObjects = append(lookupObjects, top)
		}
	}

	var meta ChartMeta
	raw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		die("%v", err)
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		die("Chart.yaml: %v", err)
	}
	if meta.APIVersion != "v2" || meta.Name == "" || meta.Version == "" {
		die("Chart.yaml: apiVersion v2, name and version are required")
	}

	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")

	caps, err := capabilities(kubeVersion, apiVersions)
	if err != nil {
		die("%v", err)
	}
	if meta.KubeVersion != "" {
		ok, err := funcs["semverCompare"].(func(string, string) (bool, error))(meta.KubeVersion,
			caps.KubeVersion.Version)
		if err != nil {
			die("Chart.yaml kubeVersion: %v", err)
		}
		if !ok {
			die("chart requires kubeVersion: %s which is incompatible with Kubernetes %s",
				meta.KubeVersion, caps.KubeVersion.Version)
		}
	}

	vals, err := readValuesFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		die("%v", err)
	}
	for _, f := range valueFiles {
		v, err := readValuesFile(f)
		if err != nil {
			die("%v", err)
		}
		mergeValues(vals, v)
	}
	for _, s := range sets {
		if err := parseSet(s, vals, false); err != nil {
			die("--set %s: %v", s, err)
		}
	}
	for _, s := range setStrings {
		if err := parseSet(s, vals, true); err != nil {
			die("--set-string %s: %v", s, err)
		}
	}
	if schemaRaw, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json")); err == nil {
		var schema interface{}
		if err := json.Unmarshal(schemaRaw, &schema); err != nil {
			die("values.schema.json: %v", err)
		}
		var problems []string
		validate(schema, toJSONish(vals), "", &problems)
		if len(problems) > 0 {
			die("values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n- %s",
				meta.Name, strings.Join(problems, "\n- "))
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		die("%v", err)
	}

	// --------------------------------------------------------- templates
	root := template.New("gotpl").Option("missingkey=zero")
	const maxIncludeDepth = 1000
	depth := map[string]int{}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		if depth[name] > maxIncludeDepth {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		depth[name]++
		defer func() { depth[name]-- }()
		var buf strings.Builder
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		if _, err := t.New("tpl").Parse(text); err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, "tpl", data); err != nil {
			return "", fmt.Errorf("error calling tpl: %v", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	funcs["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	funcs["toYaml"] = toYAML
	funcs["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		var v interface{}
		if err := yaml.Unmarshal([]byte(s), &v); err != nil {
			return map[string]interface{}{"Error": err.Error()}
		}
		m, _ := normalize(v).(map[string]interface{})
		if m == nil {
			m = map[string]interface{}{}
		}
		return m
	}
	funcs["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		for _, o := range lookupObjects {
			md, _ := o["metadata"].(map[string]interface{})
			if o["apiVersion"] == apiVersion && o["kind"] == kind && md != nil &&
				(md["namespace"] == namespace || (namespace == "" && md["namespace"] == nil)) && md["name"] == name {
				return o, nil
			}
		}
		return map[string]interface{}{}, nil
	}
	root.Funcs(funcs)

	tplDir := filepath.Join(chartDir, "templates")
	var names []string
	err = filepath.Walk(tplDir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(chartDir, p)
		name := meta.Name + "/" + filepath.ToSlash(rel)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if _, err := root.New(name).Parse(string(b)); err != nil {
			return fmt.Errorf("parse error in %v", err)
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		die("%v", err)
	}
	sort.Strings(names)

	top := map[string]interface{}{
		"Values": vals,
		"Release": map[string]interface{}{
			"Name": releaseName, "Namespace": ns, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Chart":        meta,
		"Capabilities": caps,
		"Files":        Files{dir: chartDir},
	}
	type doc struct {
		source, body, kind, name string
		order                    int
	}
	var docs []doc
	var notes string
	rendered := map[string]string{}
	for _, name := range names {
		base := filepath.Base(name)
		if strings.HasPrefix(base, "_") {
			continue
		}
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{
			"Name": name, "BasePath": meta.Name + "/templates",
		}
		var buf strings.Builder
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			die("%v", err)
		}
		out := strings.ReplaceAll(buf.String(), "<no value>", "")
		if name == meta.Name+"/templates/NOTES.txt" {
			notes = out
			continue
		}
		rendered[name] = out
		for _, d := range splitManifests(out) {
			var head struct {
				Kind     string `yaml:"kind"`
				Metadata struct {
					Name string `yaml:"name"`
				} `yaml:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(d), &head); err != nil {
				die("YAML parse error on %s: %v\n%s", name, err, d)
			}
			docs = append(docs, doc{source: name, body: d, kind: head.Kind,
				name: head.Metadata.Name, order: len(docs)})
		}
	}
	sort.SliceStable(docs, func(i, j int) bool {
		oi, oj := installOrder(docs[i].kind), installOrder(docs[j].kind)
		if oi != oj {
			return oi < oj
		}
		if oi == len(helmInstallOrder) && docs[i].kind != docs[j].kind {
			return docs[i].kind < docs[j].kind
		}
		return docs[i].order < docs[j].order
	})

	var manifests bytes.Buffer
	for _, d := range docs {
		fmt.Fprintf(&manifests, "---\n# Source: %s\n%s\n", d.source, d.body)
	}
	crds, err := filepath.Glob(filepath.Join(chartDir, "crds", "*"))
	if err != nil {
		die("%v", err)
	}
	sort.Strings(crds)
	if includeCRDs {
		for _, c := range crds {
			b, err := os.ReadFile(c)
			if err != nil {
				die("%v", err)
			}
			fmt.Printf("---\n# Source: %s/crds/%s\n%s", meta.Name, filepath.Base(c), b)
			if len(b) > 0 && b[len(b)-1] != '\n' {
				fmt.Println()
			}
		}
	}
	os.Stdout.Write(manifests.Bytes())

	if outDir == "" {
		return
	}
	write := func(p string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			die("%v", err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			die("%v", err)
		}
	}
	write(filepath.Join(outDir, "manifests.yaml"), manifests.Bytes())
	write(filepath.Join(outDir, "NOTES.txt"), []byte(notes))
	for name, out := range rendered {
		write(filepath.Join(outDir, "templates", strings.TrimPrefix(name, meta.Name+"/templates/")),
			[]byte(out))
	}
	for _, c := range crds {
		b, err := os.ReadFile(c)
		if err != nil {
			die("%v", err)
		}
		write(filepath.Join(outDir, "crds", filepath.Base(c)), b)
	}
}

func capabilities(v string, apiVersions []string) (Capabilities, error) {
	m := regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)$`).FindStringSubmatch(v)
	if m == nil {
		return Capabilities{}, fmt.Errorf("--kube-version %q is not vMAJOR.MINOR.PATCH", v)
	}
	ver := "v" + m[1] + "." + m[2] + "." + m[3]
	return Capabilities{
		KubeVersion: KubeVersion{Version: ver, GitVersion: ver, Major: m[1], Minor: m[2]},
		APIVersions: VersionSet(apiVersions),
	}, nil
}

// Helm's InstallOrder (pkg/releaseutil/kind_sorter.go); other kinds last,
// by kind.
var helmInstallOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList",
	"ConfigMap", "StorageClass", "PersistentVolume", "PersistentVolumeClaim",
	"CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service",
	"DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
	"HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress",
	"APIService",
}

func installOrder(kind string) int {
	for i, k := range helmInstallOrder {
		if k == kind {
			return i
		}
	}
	return len(helmInstallOrder)
}

var sep = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

// splitManifests splits a rendered file into its documents, as Helm's
// releaseutil.SplitManifests does, dropping empty ones.
func splitManifests(s string) []string {
	var out []string
	for _, d := range sep.Split(s, -1) {
		if strings.TrimSpace(d) == "" {
			continue
		}
		out = append(out, strings.TrimSpace(d))
	}
	return out
}

// ------------------------------------------------------------------ values

func readValuesFile(p string) (map[string]interface{}, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var v interface{}
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	if v == nil {
		return map[string]interface{}{}, nil
	}
	m, ok := normalize(v).(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("%s: not a mapping", p)
	}
	return m, nil
}

// normalize turns yaml.v2's maps into map[string]interface{} and numbers
// into float64, which is what Helm's values look like after their trip
// through JSON (sigs.k8s.io/yaml).
func normalize(v interface{}) interface{} {
	switch x := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(x))
		for k, val := range x {
			m[fmt.Sprint(k)] = normalize(val)
		}
		return m
	case map[string]interface{}:
		for k, val := range x {
			x[k] = normalize(val)
		}
		return x
	case []interface{}:
		for i := range x {
			x[i] = normalize(x[i])
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	default:
		return v
	}
}

// mergeValues deep-merges src into dst; a nil in src deletes the key.
func mergeValues(dst, src map[string]interface{}) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			mergeValues(dm, sm)
			continue
		}
		dst[k] = v
	}
}

// splitUnescaped splits s at sep outside {...} and not after a backslash.
func splitUnescaped(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\':
			i++
		case s[i] == '{':
			depth++
		case s[i] == '}':
			depth--
		case s[i] == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var leadingZero = regexp.MustCompile(`^-?0\d`)

func typedValue(s string, forceString bool) interface{} {
	if forceString {
		return s
	}
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && !leadingZero.MatchString(s) {
		return i
	}
	return s
}

var indexed = regexp.MustCompile(`^(.*?)((?:\[\d+\])+)$`)

// parseSet applies one --set argument (Helm's strvals syntax).
func parseSet(expr string, vals map[string]interface{}, forceString bool) error {
	for _, item := range splitUnescaped(expr, ',') {
		if item == "" {
			continue
		}
		kv := splitUnescaped(item, '=')
		if len(kv) < 2 {
			return fmt.Errorf("key %q has no value", item)
		}
		key, raw := kv[0], strings.Join(kv[1:], "=")
		var value interface{}
		if !forceString && strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
			list := []interface{}{}
			for _, e := range splitUnescaped(raw[1:len(raw)-1], ',') {
				if e != "" {
					list = append(list, typedValue(unescape(e), false))
				}
			}
			value = list
		} else {
			value = typedValue(unescape(raw), forceString)
		}
		if err := setPath(vals, splitUnescaped(key, '.'), value); err != nil {
			return err
		}
	}
	return nil
}

func setPath(m map[string]interface{}, path []string, value interface{}) error {
	seg := path[0]
	var idx []int
	if g := indexed.FindStringSubmatch(seg); g != nil {
		seg = g[1]
		for _, n := range regexp.MustCompile(`\d+`).FindAllString(g[2], -1) {
			i, _ := strconv.Atoi(n)
			if i > 65536 {
				return fmt.Errorf("index %d is too large", i)
			}
			idx = append(idx, i)
		}
	}
	seg = unescape(seg)
	last := len(path) == 1
	if len(idx) == 0 {
		if last {
			if value == nil {
				delete(m, seg)
			} else {
				m[seg] = value
			}
			return nil
		}
		child, ok := m[seg].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			m[seg] = child
		}
		return setPath(child, path[1:], value)
	}
	// a[i][j]...: walk (and grow) nested lists.
	list, _ := m[seg].([]interface{})
	m[seg] = list
	var setIn func(l []interface{}, ix []int) ([]interface{}, error)
	setIn = func(l []interface{}, ix []int) ([]interface{}, error) {
		for len(l) <= ix[0] {
			l = append(l, nil)
		}
		if len(ix) > 1 {
			inner, _ := l[ix[0]].([]interface{})
			inner, err := setIn(inner, ix[1:])
			l[ix[0]] = inner
			return l, err
		}
		if last {
			l[ix[0]] = value
			return l, nil
		}
		child, ok := l[ix[0]].(map[string]interface{})
		if !ok {
			child = map[string]interface{}{}
			l[ix[0]] = child
		}
		return l, setPath(child, path[1:], value)
	}
	list, err := setIn(list, idx)
	m[seg] = list
	return err
}

// ------------------------------------------------------------------ toYaml

// toJSONish round-trips v through JSON (numbers kept as int64 when whole),
// the way sigs.k8s.io/yaml prepares values for YAML.
func toJSONish(v interface{}) interface{} {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out interface{}
	if err := dec.Decode(&out); err != nil {
		return nil
	}
	var fix func(interface{}) interface{}
	fix = func(x interface{}) interface{} {
		switch t := x.(type) {
		case map[string]interface{}:
			for k, val := range t {
				t[k] = fix(val)
			}
			return t
		case []interface{}:
			for i := range t {
				t[i] = fix(t[i])
			}
			return t
		case json.Number:
			if i, err := t.Int64(); err == nil {
				return i
			}
			f, _ := t.Float64()
			return f
		default:
			return x
		}
	}
	return fix(out)
}

func toYAML(v interface{}) string {
	b, err := yaml.Marshal(toJSONish(v))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// ------------------------------------------------------------------ schema

// The JSON-schema keywords this checker implements; annotations are
// accepted and ignored. Any other keyword is an error: the schema would
// promise a check that is not made.
var schemaKeywords = map[string]bool{
	"type": true, "properties": true, "additionalProperties": true, "required": true,
	"items": true, "enum": true, "minimum": true, "maximum": true, "minLength": true,
	"pattern": true, "minItems": true, "anyOf": true,
}
var schemaAnnotations = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "title": true, "description": true,
	"default": true, "examples": true,
}

func typeOf(v interface{}) []string {
	switch x := v.(type) {
	case nil:
		return []string{"null"}
	case bool:
		return []string{"boolean"}
	case string:
		return []string{"string"}
	case int64:
		return []string{"integer", "number"}
	case float64:
		if x == math.Trunc(x) {
			return []string{"integer", "number"}
		}
		return []string{"number"}
	case []interface{}:
		return []string{"array"}
	case map[string]interface{}:
		return []string{"object"}
	}
	return []string{fmt.Sprintf("%T", v)}
}

func num(v interface{}) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func where(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}

func validate(schema interface{}, v interface{}, path string, problems *[]string) {
	s, ok := schema.(map[string]interface{})
	if !ok {
		if b, isBool := schema.(bool); isBool && !b {
			*problems = append(*problems, where(path)+": not allowed")
		}
		return
	}
	for k := range s {
		if !schemaKeywords[k] && !schemaAnnotations[k] {
			die("values.schema.json at %s: keyword %q is not checked by hack/chart/render.go", where(path), k)
		}
	}
	add := func(format string, args ...interface{}) {
		*problems = append(*problems, where(path)+": "+fmt.Sprintf(format, args...))
	}
	if t, ok := s["type"]; ok {
		var want []string
		switch tt := t.(type) {
		case string:
			want = []string{tt}
		case []interface{}:
			for _, x := range tt {
				want = append(want, fmt.Sprint(x))
			}
		}
		match := false
		for _, have := range typeOf(v) {
			for _, w := range want {
				match = match || have == w
			}
		}
		if !match {
			add("Invalid type. Expected: %s, given: %s", strings.Join(want, " or "), typeOf(v)[0])
			return
		}
	}
	if e, ok := s["enum"].([]interface{}); ok {
		found := false
		for _, x := range e {
			xb, _ := json.Marshal(x)
			vb, _ := json.Marshal(v)
			found = found || bytes.Equal(xb, vb)
		}
		if !found {
			eb, _ := json.Marshal(e)
			add("must be one of the following: %s", eb)
		}
	}
	if n, ok := num(v); ok {
		if mn, ok := s["minimum"].(float64); ok && n < mn {
			add("Must be greater than or equal to %v", mn)
		}
		if mx, ok := s["maximum"].(float64); ok && n > mx {
			add("Must be less than or equal to %v", mx)
		}
	}
	if str, ok := v.(string); ok {
		if ml, ok := s["minLength"].(float64); ok && float64(len([]rune(str))) < ml {
			add("String length must be greater than or equal to %v", ml)
		}
		if p, ok := s["pattern"].(string); ok {
			re, err := regexp.Compile(p)
			if err != nil {
				die("values.schema.json at %s: pattern %q: %v", where(path), p, err)
			}
			if !re.MatchString(str) {
				add("Does not match pattern '%s'", p)
			}
		}
	}
	if anyOf, ok := s["anyOf"].([]interface{}); ok {
		matched := false
		for _, sub := range anyOf {
			var p []string
			validate(sub, v, path, &p)
			matched = matched || len(p) == 0
		}
		if !matched {
			add("Must validate at least one schema (anyOf)")
		}
	}
	if list, ok := v.([]interface{}); ok {
		if mi, ok := s["minItems"].(float64); ok && float64(len(list)) < mi {
			add("Array must have at least %v items", mi)
		}
		if items, ok := s["items"]; ok {
			for i, x := range list {
				validate(items, x, fmt.Sprintf("%s.%d", where(path), i), problems)
			}
		}
	}
	if obj, ok := v.(map[string]interface{}); ok {
		if req, ok := s["required"].([]interface{}); ok {
			for _, r := range req {
				if _, has := obj[fmt.Sprint(r)]; !has {
					add("%s is required", r)
				}
			}
		}
		props, _ := s["properties"].(map[string]interface{})
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			child := k
			if path != "" {
				child = path + "." + k
			}
			if sub, ok := props[k]; ok {
				validate(sub, obj[k], child, problems)
			} else if ap, ok := s["additionalProperties"]; ok {
				if b, isBool := ap.(bool); isBool {
					if !b {
						add("Additional property %s is not allowed", k)
					}
				} else {
					validate(ap, obj[k], child, problems)
				}
			}
		}
	}
}
