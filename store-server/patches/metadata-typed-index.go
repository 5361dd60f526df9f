// Card-gateway addition to FerretDB v1.24.2 (store-server/patches/README.md): a new file,
// internal/backends/sqlite/metadata/typed_index.go. Apache-2.0 like the module it is built into.

package metadata

import (
	"fmt"
	"regexp"
	"strings"
)

// Secondary indexes are built on two SQL expressions per key field, so that SQLite's own ordering
// and comparisons of the index entries are MongoDB's for the stored types:
//
//   - TypedRank(f): MongoDB's BSON type order (null and missing 2, numbers 3, string 4, object 5,
//     array 6, binData 7, objectId 8, bool 9, date 10, timestamp 11, regex 12), read from the
//     document's sjson schema (`$s.p.<f>.t`);
//   - TypedValue(f): the field as an SQL value (`->>`): TEXT for strings and objectId hex, INTEGER
//     or REAL for numbers, dates (milliseconds), bools (0/1), NULL for null and missing.
//
// Within a rank SQLite's order is MongoDB's for numbers, strings (binary UTF-8), objectIds, bools
// and dates. It is not for objects, arrays, binData, timestamps and regexes ("odd" ranks), and an
// array also matches a filter by any of its elements; so every indexed field also gets a partial
// index holding only the documents where it has an odd type. It is empty in practice, and one
// probe of it tells the query planner (sqlite/typed_query.go) whether the index path is exact.

// typedField matches the field names the typed expressions accept: top-level, no quoting needed.
var typedField = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// OddRanks are the ranks whose SQLite order or matching is not MongoDB's (see above).
const OddRanks = "5, 6, 7, 11, 12"

// IsTypedIndex reports whether the index is built on typed expressions: every key a plain
// top-level field. `_id_` keeps upstream's definition.
func IsTypedIndex(index IndexInfo) bool {
	if index.Name == "_id_" || len(index.Key) == 0 {
		return false
	}

	for _, k := range index.Key {
		if !TypedFieldOK(k.Field) {
			return false
		}
	}

	return true
}

// TypedFieldOK reports whether a field name can be used in typed expressions.
func TypedFieldOK(field string) bool {
	return typedField.MatchString(field) && !strings.HasPrefix(field, "$")
}

// TypedRank returns the SQL expression of the field's MongoDB type rank.
func TypedRank(field string) string {
	return fmt.Sprintf(`(CASE %s->>'$."$s".p.%s.t' `+
		`WHEN 'int' THEN 3 WHEN 'long' THEN 3 WHEN 'double' THEN 3 WHEN 'string' THEN 4 `+
		`WHEN 'object' THEN 5 WHEN 'array' THEN 6 WHEN 'binData' THEN 7 WHEN 'objectId' THEN 8 `+
		`WHEN 'bool' THEN 9 WHEN 'date' THEN 10 WHEN 'timestamp' THEN 11 WHEN 'regex' THEN 12 `+
		`ELSE 2 END)`, DefaultColumn, field)
}

// TypedValue returns the SQL expression of the field's value.
func TypedValue(field string) string {
	return fmt.Sprintf(`(%s->>'$.%s')`, DefaultColumn, field)
}

// OddIndexName is the SQLite name of the field's partial index of odd-typed values.
func OddIndexName(tableName, field string) string {
	return tableName + "__odd_" + field
}

// OddCondition is the partial index's WHERE term; queries must use it verbatim for SQLite to
// answer them from that index.
func OddCondition(field string) string {
	return TypedRank(field) + " IN (" + OddRanks + ")"
}

// typedIndexStatements returns the statements that create a typed index and the odd-type partial
// index of each of its fields (IF NOT EXISTS: fields are shared between indexes; they are kept
// when an index is dropped, as another index may still use them).
func typedIndexStatements(tableName string, index IndexInfo) []string {
	columns := make([]string, 0, 2*len(index.Key))
	res := make([]string, 0, 1+len(index.Key))

	for _, key := range index.Key {
		dir := ""
		if key.Descending {
			dir = " DESC"
		}

		columns = append(columns, TypedRank(key.Field)+dir, TypedValue(key.Field)+dir)

		res = append(res, fmt.Sprintf(
			"CREATE INDEX IF NOT EXISTS %q ON %q (%s) WHERE %s",
			OddIndexName(tableName, key.Field), tableName, TypedRank(key.Field), OddCondition(key.Field),
		))
	}

	q := "CREATE "
	if index.Unique {
		q += "UNIQUE "
	}

	q += fmt.Sprintf("INDEX %q ON %q (%s)", tableName+"_"+index.Name, tableName, strings.Join(columns, ", "))

	// The main index last: when it fails (a unique index over duplicates), nothing else needs undoing.
	return append(res, q)
}
