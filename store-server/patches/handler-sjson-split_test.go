// Card-gateway addition to FerretDB v1.24.2 (store-server/patches/README.md): a new file,
// internal/handler/sjson/split_test.go. Apache-2.0 like the module it is built into.
//
// The split path of Unmarshal (handler-sjson.go) against upstream's, on rows of every type and on
// rows mutated at random.
package sjson

import (
	"bytes"
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// splitRows are documents of every type sjson stores, as Marshal writes them.
func splitRows(tb testing.TB) [][]byte {
	tb.Helper()

	nested := must.NotFail(types.NewDocument("product_code", "VIRT-EUR", "amount", int64(2500), "reason", "a \"quoted\" \\ reason\n"))
	array := must.NotFail(types.NewArray("a", int32(1), nested, types.Null, must.NotFail(types.NewArray())))
	docs := []*types.Document{
		must.NotFail(types.NewDocument()),
		must.NotFail(types.NewDocument("_id", "ord_1")),
		must.NotFail(types.NewDocument(
			"_id", "ord_01HXYZ",
			"project_id", "prj_demo",
			"string", "ünïcode ✓ and \u2028 and \\u0041",
			"empty", "",
			"int32", int32(-7),
			"int64", int64(math.MaxInt64),
			"double", 12.5,
			"negzero", math.Copysign(0, -1),
			"true", true,
			"false", false,
			"null", types.Null,
			"date", time.UnixMilli(1_764_000_000_123).UTC(),
			"binary", types.Binary{Subtype: types.BinaryGeneric, B: []byte{0, 1, 2, 255}},
			"objectid", types.ObjectID{0x62, 0x56, 0xc5, 0xba, 0x18, 0x2d, 0x4e, 0x4b, 0x2e, 0x8b, 0x1a, 0x0c},
			"regex", types.Regex{Pattern: "^a.*\"b", Options: "i"},
			"timestamp", types.Timestamp(1<<32+7),
			"data", nested,
			"array", array,
			"emptydoc", must.NotFail(types.NewDocument()),
			"ünï", "key beyond ASCII",
		)),
	}

	rows := make([][]byte, len(docs))
	for i, d := range docs {
		rows[i] = must.NotFail(Marshal(d))
	}

	return rows
}

// sameDecoding fails unless both decodings give the same document (compared as Marshal writes
// them, so -0 compares as stored) or both fail with the same error. (sjson cannot store NaN or
// infinities: Marshal refuses them.)
func sameDecoding(t *testing.T, row []byte, got *types.Document, gotErr error) {
	t.Helper()

	want, wantErr := unmarshalDecoded(row)
	if wantErr != nil {
		require.Error(t, gotErr, "row %q", row)
		assert.Equal(t, wantErr.Error(), gotErr.Error(), "row %q", row)

		return
	}

	require.NoError(t, gotErr, "row %q", row)
	assert.Equal(t, string(must.NotFail(Marshal(want))), string(must.NotFail(Marshal(got))), "row %q", row)
}

func TestSplitDecodesWhatMarshalWrites(t *testing.T) {
	t.Parallel()

	for _, row := range splitRows(t) {
		d, ok := unmarshalSplit(row)
		require.True(t, ok, "row %q takes the split path", row)
		sameDecoding(t, row, d, nil)
	}
}

func TestSplitLeavesOtherRowsToUpstream(t *testing.T) {
	t.Parallel()

	for name, row := range map[string]string{
		"Reordered":   `{"$s":{"p":{"a":{"t":"string"},"b":{"t":"int"}},"$k":["a","b"]},"b":1,"a":"x"}`,
		"SchemaLast":  `{"a":"x","$s":{"p":{"a":{"t":"string"}},"$k":["a"]}}`,
		"EscapedName": `{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"\u0061":"x"}`,
		// The name's raw bytes are the schema's key (a, backslash, b), but as JSON they are a,
		// backspace: upstream finds no member "a\\b".
		"EscapeInName":  `{"$s":{"p":{"a\\b":{"t":"string"}},"$k":["a\\b"]},"a\b":"x"}`,
		"ControlInName": "{\"$s\":{\"p\":{\"a\\tb\":{\"t\":\"string\"}},\"$k\":[\"a\\tb\"]},\"a\tb\":\"x\"}",
		// Upstream takes the last "$s" member as the schema, the split path would take the first.
		"KeyNamedS":     `{"$s":{"p":{"$s":{"t":"string"}},"$k":["$s"]},"$s":"x"}`,
		"DuplicateKeys": `{"$s":{"p":{"a":{"t":"string"}},"$k":["a","a"]},"a":"x","a":"y"}`,
		"ExtraMember":   `{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"x","b":"y"}`,
		"MissingMember": `{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]}}`,
		"Trailing":      `{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"x"}x`,
		"BadValue":      `{"$s":{"p":{"a":{"t":"int"}},"$k":["a"]},"a":1x}`,
		"BadNested":     `{"$s":{"p":{"a":{"t":"object","$s":{"p":{"b":{"t":"int"}},"$k":["b"]}}},"$k":["a"]},"a":{"b":1]}`,
		"Truncated":     `{"$s":{"p":{"a":{"t":"string"}},"$k":["a"]},"a":"x`,
		"NotObject":     `"foo"`,
		"Empty":         ``,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()

			_, ok := unmarshalSplit([]byte(row))
			assert.False(t, ok)

			d, err := Unmarshal([]byte(row))
			sameDecoding(t, []byte(row), d, err)
		})
	}

	spaced := []byte(" {\n\t\"$s\" : {\"p\":{\"a\":{\"t\":\"string\"}},\"$k\":[\"a\"]} ,\r\"a\" :\t\"x\" }")
	d, ok := unmarshalSplit(spaced)
	require.True(t, ok, "space before and between members is JSON too")
	sameDecoding(t, spaced, d, nil)

	// Upstream refuses space after the row (checkConsumed): so does the split path.
	_, ok = unmarshalSplit(append(spaced, ' '))
	assert.False(t, ok)
}

// TestSplitNeverDiffersFromUpstream mutates rows at random: whenever the split path decodes a row,
// upstream's decodes it to the same document; Unmarshal's answers are upstream's either way.
func TestSplitNeverDiffersFromUpstream(t *testing.T) {
	t.Parallel()

	rng := rand.New(rand.NewSource(12))
	alphabet := []byte("{}[]\",:\\ \t\n0123456789.eE+-truefalsn$sk")
	rows := splitRows(t)
	split := 0

	for n := 0; n < 30_000; n++ {
		row := bytes.Clone(rows[rng.Intn(len(rows))])

		for edits := 1 + rng.Intn(3); edits > 0 && len(row) > 0; edits-- {
			at := rng.Intn(len(row))

			switch rng.Intn(4) {
			case 0:
				row = append(row[:at], row[at+1:]...)
			case 1:
				at = rng.Intn(len(row) + 1) // after the last byte too
				row = append(row[:at], append([]byte{alphabet[rng.Intn(len(alphabet))]}, row[at:]...)...)
			case 2:
				row[at] = alphabet[rng.Intn(len(alphabet))]
			default:
				end := at + rng.Intn(len(row)-at)
				row = append(row[:end], append(bytes.Clone(row[at:end]), row[end:]...)...)
			}
		}

		if d, ok := unmarshalSplit(row); ok {
			split++
			sameDecoding(t, row, d, nil)
		}

		d, err := Unmarshal(row)
		sameDecoding(t, row, d, err)
	}

	assert.Greater(t, split, 100, "some mutated rows (space, other values) still take the split path")
}

// BenchmarkUnmarshalOrderRow decodes a row of an order's shape both ways.
func BenchmarkUnmarshalOrderRow(b *testing.B) {
	data := must.NotFail(types.NewDocument("product_code", "VIRT-EUR", "product_id", int32(4), "external_user_id", "user-42",
		"currency", "EUR", "initial_balance", int32(2500), "issue_fee", int32(300), "total_charge", int32(2800)))
	now := time.UnixMilli(1_764_000_000_123)
	row := must.NotFail(Marshal(must.NotFail(types.NewDocument(
		"_id", "ord_01JE0000000000000000000000", "project_id", "prj_demo", "order_type", "card_issue",
		"idempotency_key", "4f7c2b6e-8a51-4d3e-9c1a-2b7d6e5f4a3c", "request_hash", "k3v0wq9bV6n5m2l8p1o4i7u0y3t6r9e2w5q8a1s4d7f",
		"status", "completed", "issue_status", "completed", "is_issued", true, "provider_card_status", "active",
		"provider_card_id", "pc_8c1f0e2d", "provider_topup_id", "pt_1a2b3c4d", "card_id", "crd_01JE00000000000000000000",
		"external_user_id", "user-42", "data", data, "balance_before", int32(100_000), "balance_after", int32(97_200),
		"rejected", false, "attempts", int32(0), "lease_owner", "worker-1", "lease_expires_at", now,
		"created_at", now, "updated_at", now, "completed_at", now, "next_attempt_at", now, "last_error_slug", types.Null,
	))))

	b.Run("split", func(b *testing.B) {
		b.ReportAllocs()

		for i := 0; i < b.N; i++ {
			if _, ok := unmarshalSplit(row); !ok {
				b.Fatal("not split")
			}
		}
	})

	b.Run("upstream", func(b *testing.B) {
		b.ReportAllocs()

		for i := 0; i < b.N; i++ {
			must.NotFail(unmarshalDecoded(row))
		}
	})
}
