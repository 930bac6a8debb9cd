package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// configError is a mistake in a configuration: the file, the line, the key
// (a path such as providers[1].base_url) and what is wrong. Its text may
// quote a name (of a provider, a type, a strategy) but never a value that may
// be a secret: no key, URL or header value, nothing from the environment.
type configError struct {
	File string
	Line int
	Path string // empty for a syntax error
	Msg  string
}

func (e *configError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Path, e.Msg)
}

// source remembers where each key of a configuration file was written.
type source struct {
	file   string
	lines  map[string]int       // path -> line of its key (or of a sequence item)
	values map[string]valueSpot // path -> its value node
}

// valueSpot is where a value was written, and its text when it is a scalar.
type valueSpot struct {
	line   int
	scalar bool
	text   string
}

// has reports whether path was written in the file.
func (s *source) has(path string) bool { _, ok := s.lines[path]; return ok }

// line returns the line of path or, when it was not written, of the nearest
// enclosing key that was (a missing key is reported where it belongs).
func (s *source) line(path string) int {
	for path != "" {
		if l, ok := s.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 1
}

func (s *source) errorf(path, format string, args ...any) *configError {
	return &configError{File: s.file, Line: s.line(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// loadConfig reads the configuration file at path. See parseConfig.
func loadConfig(path string, lookupEnv func(string) (string, bool)) (*config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: cannot read the configuration: %w", path, err)
	}
	return parseConfig(path, data, lookupEnv)
}

// parseConfig parses and validates a configuration read from file. Unknown
// keys and values of the wrong type are errors. In string values,
// environment variables are expanded ($NAME or ${NAME}; $$ is a literal $),
// in the values only, never in keys or in the file's structure, so a
// variable cannot inject YAML; an unset variable is an error. Every error is
// a configError, and all of them are reported at once (errors.Join).
func parseConfig(file string, data []byte, lookupEnv func(string) (string, bool)) (*config, error) {
	src := &source{file: file, lines: map[string]int{}, values: map[string]valueSpot{}}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, src.yamlError(err)
	}
	if len(root.Content) == 0 {
		return nil, src.errorf("", "the configuration is empty; it needs at least one provider")
	}
	src.index(root.Content[0], "")

	// Pass 1, on the text as written: unknown keys and wrong types, with
	// the line yaml.v3 reports. Node.Decode cannot reject unknown keys.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var strict config
	if err := dec.Decode(&strict); err != nil {
		return nil, src.yamlError(err)
	}
	if err := dec.Decode(new(yaml.Node)); err != io.EOF {
		return nil, src.errorf("", "the file holds more than one YAML document")
	}

	// Pass 2: expand the environment in string values, then decode.
	var errs []error
	expandEnv(root.Content[0], "", lookupEnv, func(path, msg string) { errs = append(errs, src.errorf(path, "%s", msg)) })
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cfg := new(config)
	if err := root.Content[0].Decode(cfg); err != nil {
		return nil, src.yamlError(err)
	}
	cfg.src = *src
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// index records the line of every key and sequence item under n.
func (s *source) index(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if _, dup := s.lines[p]; !dup {
				s.lines[p] = k.Line
			}
			s.index(n.Content[i+1], p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			s.lines[p] = c.Line
			s.index(c, p)
		}
	}
	if path != "" {
		s.values[path] = valueSpot{line: n.Line, scalar: n.Kind == yaml.ScalarNode, text: n.Value}
	}
}

var (
	yamlLine      = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField  = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	cannotDecode  = regexp.MustCompile("^cannot unmarshal !!(\\w+) (?:`(.*)` )?into (\\S+)$")
	yamlTagsNames = map[string]string{"str": "a string", "int": "an int", "float": "a number", "bool": "a bool", "seq": "a list", "map": "a mapping", "null": "null"}
)

// yamlError turns a yaml.v3 error into configErrors that name the key, and
// drops the value yaml.v3 quotes, which may be a secret.
func (s *source) yamlError(err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		sub := yamlLine.FindStringSubmatch(m)
		if sub == nil {
			errs = append(errs, &configError{File: s.file, Line: 1, Msg: strings.TrimPrefix(m, "yaml: ")})
			continue
		}
		line, _ := strconv.Atoi(sub[1])
		ce := &configError{File: s.file, Line: line, Msg: sub[2]}
		if f := unknownField.FindStringSubmatch(sub[2]); f != nil {
			ce.Path, ce.Msg = s.keyAt(line, f[1]), "unknown key"
		} else if c := cannotDecode.FindStringSubmatch(sub[2]); c != nil {
			got := yamlTagsNames[c[1]]
			if got == "" {
				got = "!!" + c[1]
			}
			ce.Path, ce.Msg = s.valueAt(line, c[2]), "want "+goTypeName(c[3])+", got "+got
		}
		errs = append(errs, ce)
	}
	return errors.Join(errs...)
}

// goTypeName says what a Go type of the schema is in YAML terms.
func goTypeName(t string) string {
	switch t = strings.TrimPrefix(t, "*"); {
	case t == "time.Duration":
		return "a duration (e.g. 1.5s, 300ms)"
	case t == "map[string]string":
		return "a mapping of strings"
	case t == "[]string":
		return "a list of strings"
	case t == "[]int":
		return "a list of ints"
	case strings.HasPrefix(t, "[]main."):
		return "a list of mappings"
	case strings.HasPrefix(t, "main."):
		return "a mapping"
	case strings.HasPrefix(t, "int") || strings.HasPrefix(t, "uint"):
		return "an int"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "a bool (true or false)"
	case t == "string":
		return "a string"
	}
	return t
}

// keyAt returns the path of the key named key written on line, or "".
func (s *source) keyAt(line int, key string) string {
	var found []string
	for p, l := range s.lines {
		if l == line && (p == key || strings.HasSuffix(p, "."+key)) {
			found = append(found, p)
		}
	}
	return deepest(found)
}

// valueAt returns the path of the value written on line whose text yaml.v3
// quoted as quoted (cut to 7 bytes and "..." when long; empty for a list
// or mapping), or "".
func (s *source) valueAt(line int, quoted string) string {
	prefix, cut := strings.CutSuffix(quoted, "...")
	var found []string
	for p, v := range s.values {
		if v.line != line {
			continue
		}
		if quoted == "" && !v.scalar || v.scalar && (v.text == quoted || cut && strings.HasPrefix(v.text, prefix)) {
			found = append(found, p)
		}
	}
	return deepest(found)
}

// deepest returns the longest of paths (the first in order among equals),
// or "".
func deepest(paths []string) string {
	sort.Slice(paths, func(i, j int) bool {
		if len(paths[i]) != len(paths[j]) {
			return len(paths[i]) > len(paths[j])
		}
		return paths[i] < paths[j]
	})
	if len(paths) == 0 {
		return ""
	}
	return paths[0]
}
