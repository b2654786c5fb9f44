package handoff

import (
	"bytes"
	"encoding/json"
	"fmt"
	gojson "github.com/goccy/go-json"
	"hash/crc32"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Version is the image format this binary writes, and the only one it
// reads. Bump it when a section changes meaning; adding a section a
// reader may ignore does not need a bump.
const Version = 1

// magic is the first line of every image, so that a stray file or a
// descriptor of the wrong kind is told apart from an image of another
// version.
const magic = "fanoutd-handoff-image\n"

// maxHeader bounds the second line: "<version> <length> <crc32>\n".
const maxHeader = 64

// Encode writes an image: the magic line, then "<Version> <length>
// <crc32 of the body, hex>", then the body, a JSON object with one member
// per section, in name order. Each section is marshalled with
// encoding/json, the sections in parallel: a caller with one large
// section (a connection list) splits it into several to use every core.
func Encode(sections map[string]any) ([]byte, error) {
	names := slices.Sorted(maps.Keys(sections))
	raws := make([][]byte, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { raws[i], errs[i] = gojson.Marshal(sections[name]) })
	}
	wg.Wait()
	body := []byte{'{'}
	for i, name := range names {
		if errs[i] != nil {
			return nil, fmt.Errorf("handoff: encode image: section %q: %w", name, errs[i])
		}
		if i > 0 {
			body = append(body, ',')
		}
		key, _ := json.Marshal(name)
		body = append(append(append(body, key...), ':'), raws[i]...)
	}
	body = append(body, '}')
	head := fmt.Sprintf("%s%d %d %08x\n", magic, Version, len(body), crc32.ChecksumIEEE(body))
	return append([]byte(head), body...), nil
}

// Decode reads an image written by Encode into sections: each value must
// be a pointer, and the section of the same name is unmarshalled into it,
// the sections in parallel. Sections of the image not asked for are
// ignored; a section asked for and missing is an error (a hand-off must
// not start on partial state). Another version wraps ErrVersion; anything
// else that is not a whole image wraps ErrCorrupt.
func Decode(image []byte, sections map[string]any) error {
	rest, ok := bytes.CutPrefix(image, []byte(magic))
	if !ok {
		return fmt.Errorf("%w: no %q line (%d bytes)", ErrCorrupt, strings.TrimSpace(magic), len(image))
	}
	body, err := checkHeader(rest)
	if err != nil {
		return err
	}
	var members map[string]json.RawMessage
	if err := gojson.Unmarshal(body, &members); err != nil {
		return fmt.Errorf("%w: body: %v", ErrCorrupt, err)
	}
	for name := range sections {
		if _, ok := members[name]; !ok {
			return fmt.Errorf("%w: missing section %q", ErrCorrupt, name)
		}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for name, v := range sections {
		wg.Go(func() {
			if err := gojson.Unmarshal(members[name], v); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("%w: section %q: %v", ErrCorrupt, name, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// checkHeader parses the version line and returns the body it announces.
// The version is checked first, so that a later format free to change the
// rest of that line is still reported as a version mismatch.
func checkHeader(rest []byte) ([]byte, error) {
	line, body, ok := bytes.Cut(rest[:min(len(rest), maxHeader)], []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("%w: truncated header", ErrCorrupt)
	}
	body = rest[len(line)+1:]
	f := strings.Fields(string(line))
	if len(f) == 0 {
		return nil, fmt.Errorf("%w: empty version line", ErrCorrupt)
	}
	v, err := strconv.Atoi(f[0])
	if err != nil {
		return nil, fmt.Errorf("%w: version %q", ErrCorrupt, f[0])
	}
	if v != Version {
		return nil, fmt.Errorf("%w: the image is version %d, this binary reads version %d", ErrVersion, v, Version)
	}
	if len(f) != 3 {
		return nil, fmt.Errorf("%w: version line %q", ErrCorrupt, line)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 0 {
		return nil, fmt.Errorf("%w: length %q", ErrCorrupt, f[1])
	}
	if len(body) != n {
		return nil, fmt.Errorf("%w: body is %d bytes, header says %d (truncated?)", ErrCorrupt, len(body), n)
	}
	if sum := fmt.Sprintf("%08x", crc32.ChecksumIEEE(body)); sum != f[2] {
		return nil, fmt.Errorf("%w: checksum %s, header says %s", ErrCorrupt, sum, f[2])
	}
	return body, nil
}
