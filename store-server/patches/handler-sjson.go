// Copyright 2021 FerretDB Inc.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

// Package sjson provides converters from/to jsonb with some extensions for built-in and `types` types.
//
// See contributing guidelines and documentation for package `types` for details.
//
// # Mapping
//
// SJSON uses schema to map values to data types.
// Schema is stored in the `$s` field of the document and contains information about the fields.
// A document with schema looks like this:
//
//	{
//	   "$s": {
//	     "$k": ["field1", "field2", ...],
//	     "p": {
//	       "field1": {<schema>},
//	       "field2": {<schema>},
//	       ...
//	   }
//	   "field1": <json representation>,
//	   "field2": <json representation>,
//	   ...
//	}
//
// Composite types
//
//	Alias      types package    sjson package        sjson schema                                             JSON representation
//
//	object     *types.Document  *sjson.documentType  {"t":"object", "$s": {"$k":[<keys>], "p":{<properties>}} JSON object
//	array      *types.Array     *sjson.arrayType     {"t":"array", "i": [<item 1>, <item 2>]}                 JSON array
//
// Scalar types
//
//	Alias      types package    sjson package         sjson schema                           JSON representation
//
//	double     float64          *sjson.doubleType     {"t":"double"}                         JSON number
//	string     string           *sjson.stringType     {"t":"string"}                         JSON string
//	binData    types.Binary     *sjson.binaryType     {"t":"binData",
//	                                                   "s":<subtype number>}                 "<base 64 string>"
//	objectId   types.ObjectID   *sjson.objectIDType   {"t":"objectId"}                       "<ObjectID as 24 character hex string>"
//	bool       bool             *sjson.boolType       {"t":"bool"}                           JSON true / false values
//	date       time.Time        *sjson.dateTimeType   {"t":"date"}                           milliseconds since epoch as JSON number
//	null       types.NullType   *sjson.nullType       {"t":"null"}                           JSON null
//	regex      types.Regex      *sjson.regexType      {"t":"regex",
//	                                                   "o": "<string w/o terminating 0x0>"}  "<string w/o terminating 0x0>"
//	int        int32            *sjson.int32Type      {"t":"int"}                            JSON number
//	timestamp  types.Timestamp  *sjson.timestampType  {"t":"timestamp"}                      JSON number
//	long       int64            *sjson.int64Type      {"t":"long"}                           JSON number
//
//nolint:lll // for readability
package sjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/AlekSi/pointer"

	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
	"github.com/FerretDB/FerretDB/internal/util/must"
)

// sjsontype is a type that can be marshaled from/to sjson.
//
//sumtype:decl
type sjsontype interface {
	sjsontype() // seal for sumtype

	json.Marshaler
}

// checkConsumed returns error if decoder or reader have buffered or unread data.
func checkConsumed(dec *json.Decoder, r *bytes.Reader) error {
	if dr := dec.Buffered().(*bytes.Reader); dr.Len() != 0 {
		b, _ := io.ReadAll(dr)

		if l := len(b); l != 0 {
			return lazyerrors.Errorf("%d bytes remains in the decoder: %s", l, b)
		}
	}

	if l := r.Len(); l != 0 {
		b, _ := io.ReadAll(r)
		return lazyerrors.Errorf("%d bytes remains in the reader: %s", l, b)
	}

	return nil
}

// fromSJSON converts sjsontype value to matching built-in or types' package value.
func fromSJSON(v sjsontype) any {
	switch v := v.(type) {
	case *documentType:
		return pointer.To(types.Document(*v))
	case *arrayType:
		return pointer.To(types.Array(*v))
	case *doubleType:
		return float64(*v)
	case *stringType:
		return string(*v)
	case *binaryType:
		return types.Binary(*v)
	case *objectIDType:
		return types.ObjectID(*v)
	case *boolType:
		return bool(*v)
	case *dateTimeType:
		return time.Time(*v)
	case *nullType:
		return types.Null
	case *regexType:
		return types.Regex(*v)
	case *int32Type:
		return int32(*v)
	case *timestampType:
		return types.Timestamp(*v)
	case *int64Type:
		return int64(*v)
	}

	panic(fmt.Sprintf("not reached: %T", v)) // for sumtype to work
}

// toSJSON converts built-in or types' package value to sjsontype value.
func toSJSON(v any) sjsontype {
	switch v := v.(type) {
	case *types.Document:
		return pointer.To(documentType(*v))
	case *types.Array:
		return pointer.To(arrayType(*v))
	case float64:
		return pointer.To(doubleType(v))
	case string:
		return pointer.To(stringType(v))
	case types.Binary:
		return pointer.To(binaryType(v))
	case types.ObjectID:
		return pointer.To(objectIDType(v))
	case bool:
		return pointer.To(boolType(v))
	case time.Time:
		return pointer.To(dateTimeType(v))
	case types.NullType:
		return pointer.To(nullType(v))
	case types.Regex:
		return pointer.To(regexType(v))
	case int32:
		return pointer.To(int32Type(v))
	case types.Timestamp:
		return pointer.To(timestampType(v))
	case int64:
		return pointer.To(int64Type(v))
	}

	panic(fmt.Sprintf("not reached: %T", v)) // for sumtype to work
}

// Unmarshal decodes the top-level document.
// It decodes document's schema from the `$s` field and uses it to decode the data of the document.
//
// Card-gateway patch (store-server/patches/README.md): a row laid out as Marshal writes it is split
// into its members without encoding/json (unmarshalSplit); any other row, and any row the split
// path cannot decode, takes upstream's path (unmarshalDecoded), so every refusal is upstream's.
func Unmarshal(data []byte) (*types.Document, error) {
	if d, ok := unmarshalSplit(data); ok {
		return d, nil
	}

	return unmarshalDecoded(data)
}

// unmarshalDecoded is upstream's Unmarshal: the row decoded by encoding/json into its members.
func unmarshalDecoded(data []byte) (*types.Document, error) {
	var v map[string]json.RawMessage
	r := bytes.NewReader(data)
	dec := json.NewDecoder(r)

	err := dec.Decode(&v)
	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	if err = checkConsumed(dec, r); err != nil {
		return nil, lazyerrors.Error(err)
	}

	// decode schema from the $s field of the document
	jsch, ok := v["$s"]
	if !ok {
		return nil, lazyerrors.Errorf("schema is not set")
	}

	// Card-gateway patch (store-server/patches/README.md): a schema decoded once is reused for
	// every row of the same shape (cachedSchema).
	cached, err := cachedSchema(jsch)
	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	sch := cached.schema

	delete(v, "$s")

	// decode data from the rest of the document using the schema
	if len(sch.Keys) != len(v) {
		return nil, lazyerrors.Errorf(
			"sjson.Unmarshal: the data must have the same number of schema keys and document fields (keys: %d, fields: %d)",
			len(sch.Keys), len(v),
		)
	}

	d := must.NotFail(types.NewDocument())

	for _, key := range sch.Keys {
		b, ok := v[key]

		if !ok {
			return nil, lazyerrors.Errorf("sjson.Unmarshal: missing key %q", key)
		}

		v, err := unmarshalSingleValue(b, sch.Properties[key])
		if err != nil {
			return nil, lazyerrors.Error(err)
		}

		d.Set(key, v)
	}

	return d, nil
}

// unmarshalSingleValue decodes the given sjson-encoded data element by the given schema.
func unmarshalSingleValue(data json.RawMessage, sch *elem) (any, error) {
	if bytes.Equal(data, []byte("null")) {
		return fromSJSON(new(nullType)), nil
	}

	if sch == nil {
		return nil, lazyerrors.Errorf("schema is not set")
	}

	var res sjsontype
	var err error

	// Card-gateway patch (store-server/patches/README.md): doubles, strings, bools, dates, ints
	// and longs are decoded with unmarshalScalar instead of their types' UnmarshalJSON, which
	// allocate a json.Decoder (and its buffer) per value.
	switch sch.Type {
	case elemTypeObject:
		if sch.Schema == nil {
			return nil, lazyerrors.Errorf("sjson.unmarshalSingleValue: schema is not set")
		}

		var d documentType
		err = d.UnmarshalJSONWithSchema(data, sch.Schema)
		res = &d
	case elemTypeArray:
		if sch.Items == nil {
			return nil, lazyerrors.Errorf("sjson.unmarshalSingleValue: schema's items are not set")
		}

		var a arrayType
		err = a.UnmarshalJSONWithSchema(data, sch.Items)
		res = &a
	case elemTypeDouble:
		var d doubleType
		err = unmarshalScalar(data, (*float64)(&d))
		res = &d
	case elemTypeString:
		var s stringType
		err = unmarshalScalar(data, (*string)(&s))
		res = &s
	case elemTypeBinData:
		var b binaryType
		err = b.UnmarshalJSONWithSchema(data, sch)
		res = &b
	case elemTypeObjectID:
		var o objectIDType
		err = o.UnmarshalJSON(data)
		res = &o
	case elemTypeBool:
		var b boolType
		err = unmarshalScalar(data, (*bool)(&b))
		res = &b
	case elemTypeDate:
		// Card-gateway patch: what dateTimeType.UnmarshalJSON does (time.UnixMilli; upstream's
		// TODO https://github.com/FerretDB/FerretDB/issues/43 is to use .UTC()).
		var ms int64
		err = unmarshalScalar(data, &ms)
		d := dateTimeType(time.UnixMilli(ms))
		res = &d
	case elemTypeNull:
		return nil, lazyerrors.Errorf("sjson.unmarshalSingleValue: expected null, got %s", data)
	case elemTypeRegex:
		var r regexType
		err = r.UnmarshalJSONWithSchema(data, sch)
		res = &r
	case elemTypeInt:
		var i int32Type
		err = unmarshalScalar(data, (*int32)(&i))
		res = &i
	case elemTypeTimestamp:
		var t timestampType
		err = t.UnmarshalJSON(data)
		res = &t
	case elemTypeLong:
		var l int64Type
		err = unmarshalScalar(data, (*int64)(&l))
		res = &l
	default:
		return nil, lazyerrors.Errorf("sjson.unmarshalSingleValue: unhandled type %q", sch.Type)
	}

	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	return fromSJSON(res), nil
}

// Marshal encodes given document fields and set its schema in the field $s.
// Use it when you need to encode a document with schema, for example, when you want to store it in a database.
func Marshal(d *types.Document) ([]byte, error) {
	if d == nil {
		panic("v is nil")
	}

	schema, err := marshalSchemaForDoc(d)
	if err != nil {
		return nil, err
	}

	var buf bytes.Buffer

	buf.WriteString(`{"$s":`)
	buf.Write(schema)

	keys := d.Keys()
	values := d.Values()

	for i, key := range keys {
		buf.WriteByte(',')
		buf.WriteString(`"`)
		buf.WriteString(key)
		buf.WriteString(`":`)

		b, err := toSJSON(values[i]).MarshalJSON()
		if err != nil {
			return nil, lazyerrors.Error(err)
		}

		buf.Write(b)
	}

	buf.WriteByte('}')

	return buf.Bytes(), nil
}

// MarshalSingleValue encodes given built-in or types' package value into sjson.
// Use it when you need to encode a single value, for example in a where clause.
func MarshalSingleValue(v any) ([]byte, error) {
	if v == nil {
		panic("v is nil")
	}

	b, err := toSJSON(v).MarshalJSON()
	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	return b, nil
}

// maxCachedSchemas bounds cachedSchema's memory: a collection's rows come in a few shapes (which
// optional fields they hold); past the bound, schemas are decoded per row as upstream does.
const maxCachedSchemas = 1024

var (
	// schemas maps a row's "$s" JSON to its decoded schema, which nothing modifies after decoding,
	// so goroutines share it.
	schemas     sync.Map
	schemaCount atomic.Int64
)

// rowSchema is a decoded "$s" and whether rows of it may be split (unmarshalSplit): not when the
// schema names a key twice (upstream's path refuses such rows) or names "$s" (upstream's path takes
// the last "$s" member as the schema, the split path would take the first).
type rowSchema struct {
	schema     *schema
	splittable bool
}

// cachedSchema decodes a row's schema as Unmarshal did, once per distinct "$s".
//
// Card-gateway patch (store-server/patches/README.md): every row carries its schema, and decoding
// it through reflection was about a quarter of decoding an order's row.
func cachedSchema(jsch []byte) (*rowSchema, error) {
	if v, ok := schemas.Load(string(jsch)); ok {
		return v.(*rowSchema), nil
	}

	sch := new(schema)
	r := bytes.NewReader(jsch)
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()

	if err := dec.Decode(sch); err != nil {
		return nil, lazyerrors.Error(err)
	}

	if err := checkConsumed(dec, r); err != nil {
		return nil, lazyerrors.Error(err)
	}

	seen := make(map[string]struct{}, len(sch.Keys))
	for _, key := range sch.Keys {
		seen[key] = struct{}{}
	}

	_, namesS := seen["$s"]
	cached := &rowSchema{schema: sch, splittable: len(seen) == len(sch.Keys) && !namesS}

	if schemaCount.Load() < maxCachedSchemas {
		if _, loaded := schemas.LoadOrStore(string(jsch), cached); !loaded {
			schemaCount.Add(1)
		}
	}

	return cached, nil
}

// unmarshalSplit decodes a row whose members are "$s" first and then exactly its schema's keys in
// the schema's order, as Marshal writes them; ok is false for any other row and for any error.
//
// Card-gateway patch (store-server/patches/README.md): splitting each row into a
// map[string]json.RawMessage with encoding/json was a quarter of the store's CPU per document read.
// Each member's value is cut out by rowScanner and decoded by the same code upstream's path uses,
// which accepts only one complete, valid JSON value; the members' names must be byte for byte the
// schema's keys with no escapes. So when this returns ok the row is valid JSON with those members
// and no others, and upstream's path would have decoded the same values from the same bytes.
func unmarshalSplit(data []byte) (*types.Document, bool) {
	s := rowScanner{data: data}

	if !s.expect('{') || !s.name("$s") {
		return nil, false
	}

	jsch, ok := s.value()
	if !ok {
		return nil, false
	}

	cached, err := cachedSchema(jsch)
	if err != nil || !cached.splittable {
		return nil, false
	}

	sch := cached.schema
	d := must.NotFail(types.NewDocument())

	for _, key := range sch.Keys {
		if !s.expect(',') || !s.name(key) {
			return nil, false
		}

		b, ok := s.value()
		if !ok {
			return nil, false
		}

		v, err := unmarshalSingleValue(b, sch.Properties[key])
		if err != nil {
			return nil, false
		}

		d.Set(key, v)
	}

	if !s.expect('}') || !s.end() {
		return nil, false
	}

	return d, true
}

// rowScanner cuts a row's members out of its JSON. It only finds where each value ends; the
// values' decoders check that what it cut out is valid.
type rowScanner struct {
	data []byte
	i    int
}

func (s *rowScanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// expect reads optional space and then c.
func (s *rowScanner) expect(c byte) bool {
	s.space()

	if s.i >= len(s.data) || s.data[s.i] != c {
		return false
	}

	s.i++

	return true
}

// end is true when nothing is left: upstream's checkConsumed refuses even space after the row.
func (s *rowScanner) end() bool {
	return s.i == len(s.data)
}

// name reads a member's name, which must be exactly key, with no escapes or control characters in
// its JSON, then the colon after it.
func (s *rowScanner) name(key string) bool {
	if !s.expect('"') {
		return false
	}

	start := s.i
	for s.i < len(s.data) {
		c := s.data[s.i]
		if c == '"' {
			break
		}

		if c == '\\' || c < 0x20 {
			return false
		}

		s.i++
	}

	if s.i >= len(s.data) || string(s.data[start:s.i]) != key {
		return false
	}

	s.i++

	return s.expect(':')
}

// value cuts out the next value after optional space: a string to its closing quote, an object or
// array to its closing bracket (skipping strings), anything else to the next delimiter.
func (s *rowScanner) value() ([]byte, bool) {
	s.space()

	start := s.i
	if s.i >= len(s.data) {
		return nil, false
	}

	switch s.data[s.i] {
	case '"':
		if !s.skipString() {
			return nil, false
		}
	case '{', '[':
		depth := 0

		for {
			if s.i >= len(s.data) {
				return nil, false
			}

			switch s.data[s.i] {
			case '"':
				if !s.skipString() {
					return nil, false
				}

				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}

			s.i++

			if depth == 0 {
				break
			}
		}
	default:
		for s.i < len(s.data) {
			switch s.data[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return s.data[start:s.i], s.i > start
			}

			s.i++
		}
	}

	return s.data[start:s.i], s.i > start
}

// skipString moves from a string's opening quote past its closing quote.
func (s *rowScanner) skipString() bool {
	s.i++ // the opening quote

	for s.i < len(s.data) {
		switch s.data[s.i] {
		case '\\':
			s.i += 2
		case '"':
			s.i++
			return true
		default:
			s.i++
		}
	}

	return false
}

// unmarshalScalar decodes one scalar value. data is one JSON value cut out by the enclosing object's
// or array's decoding (a json.RawMessage, no surrounding space), so json.Unmarshal accepts and
// refuses exactly what upstream's json.Decoder with checkConsumed did; or it is what rowScanner cut
// out, which json.Unmarshal accepts only when it is one complete valid value.
//
// Card-gateway patch (store-server/patches/README.md).
func unmarshalScalar[T any](data []byte, o *T) error {
	return json.Unmarshal(data, o)
}
