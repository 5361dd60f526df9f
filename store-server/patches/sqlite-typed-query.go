// Card-gateway addition to FerretDB v1.24.2 (store-server/patches/README.md): a new file,
// internal/backends/sqlite/typed_query.go. Apache-2.0 like the module it is built into.

package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/internal/backends/sqlite/metadata"
	"github.com/FerretDB/FerretDB/internal/types"
	"github.com/FerretDB/FerretDB/internal/util/fsql"
	"github.com/FerretDB/FerretDB/internal/util/lazyerrors"
)

// typedPlan is what a query can take from the typed indexes (metadata/typed_index.go).
//
// The handler applies the whole filter to whatever the backend returns, so `where` only has to
// select a superset of the matching documents; it is exact (and a count may be answered from it)
// when every condition of the filter is in it. `orderBy` is MongoDB's order for the sort.
type typedPlan struct {
	where   []string
	args    []any
	orderBy string
	sorted  bool
	exact   bool

	// fixed holds the expressions an equality in `where` makes constant: SQLite does not drop
	// such an expression from ORDER BY by itself, and would then sort in a temporary B-tree.
	fixed map[string]bool
}

// whereClause returns the plan's WHERE clause, or "".
func (p *typedPlan) whereClause() string {
	if len(p.where) == 0 {
		return ""
	}

	return " WHERE " + strings.Join(p.where, " AND ")
}

// oddIndexes caches which odd-type partial indexes exist (table name + field); only found ones
// are kept, as they are never dropped while their table exists.
var oddIndexes sync.Map

// typedFields returns the fields the collection's typed indexes cover and whose odd-type partial
// index exists (a store made before the patch has neither until its indexes are rebuilt).
func typedFields(ctx context.Context, db *fsql.DB, meta *metadata.Collection) (map[string]bool, error) {
	fields := map[string]bool{}

	for _, index := range meta.Settings.Indexes {
		if !metadata.IsTypedIndex(index) {
			continue
		}

		for _, k := range index.Key {
			if fields[k.Field] {
				continue
			}

			name := metadata.OddIndexName(meta.TableName, k.Field)
			if _, ok := oddIndexes.Load(name); !ok {
				var n int

				q := `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?`
				if err := db.QueryRowContext(ctx, q, name).Scan(&n); err != nil {
					return nil, lazyerrors.Error(err)
				}

				if n == 0 {
					continue
				}

				oddIndexes.Store(name, true)
			}

			fields[k.Field] = true
		}
	}

	return fields, nil
}

// planTyped returns the typed plan for the filter and sort, or nil when the indexes cannot help
// (then the query reads the whole table, as upstream does).
func planTyped(ctx context.Context, db *fsql.DB, meta *metadata.Collection, filter, sort *types.Document) (*typedPlan, error) {
	if meta.Capped() || (filter.Len() == 0 && sort.Len() == 0) {
		return nil, nil
	}

	fields, err := typedFields(ctx, db, meta)
	if err != nil || len(fields) == 0 {
		return nil, err
	}

	p := &typedPlan{exact: true, fixed: map[string]bool{}}
	used := map[string]bool{}

	addConditions(p, filter, fields, used, true)

	if sort.Len() > 0 {
		var terms []string

		p.sorted = true

		for _, k := range sort.Keys() {
			dir, _ := sort.Get(k)
			d, ok := dir.(int64)

			if !ok || !fields[k] || (d != 1 && d != -1) {
				terms = nil
				p.sorted = false

				break
			}

			suffix := ""
			if d == -1 {
				suffix = " DESC"
			}

			for _, e := range []string{metadata.TypedRank(k), metadata.TypedValue(k)} {
				if !p.fixed[e] {
					terms = append(terms, e+suffix)
				}
			}

			used[k] = true
		}

		if len(terms) > 0 {
			p.orderBy = " ORDER BY " + strings.Join(terms, ", ")
		}
	}

	if len(p.where) == 0 && !p.sorted {
		return nil, nil
	}

	// One probe of each field's (empty) odd-type index: an array, object or other odd value
	// anywhere in the collection would be matched or ordered differently by MongoDB.
	for f := range used {
		var one int

		q := `SELECT 1 FROM ` + quoteIdent(meta.TableName) + ` WHERE ` + metadata.OddCondition(f) + ` LIMIT 1`

		err := db.QueryRowContext(ctx, q).Scan(&one)
		if err == nil {
			return nil, nil
		}

		if !errors.Is(err, sql.ErrNoRows) {
			return nil, lazyerrors.Error(err)
		}
	}

	return p, nil
}

// addConditions adds the filter's conditions on typed fields to the plan (top level, and the
// documents of a top-level `$and`, which are conjunctions too); anything else makes it inexact.
func addConditions(p *typedPlan, filter *types.Document, fields, used map[string]bool, top bool) {
	for _, k := range filter.Keys() {
		v, _ := filter.Get(k)

		switch {
		case k == "$comment" && top:
			continue
		case k == "$and" && top:
			arr, ok := v.(*types.Array)
			if !ok {
				p.exact = false
				continue
			}

			for i := 0; i < arr.Len(); i++ {
				el, _ := arr.Get(i)
				if d, ok := el.(*types.Document); ok {
					addConditions(p, d, fields, used, false)
				} else {
					p.exact = false
				}
			}

			continue
		case !fields[k]:
			p.exact = false
			continue
		}

		ops, isDoc := v.(*types.Document)
		if !isDoc || ops.Len() == 0 || !strings.HasPrefix(ops.Keys()[0], "$") {
			addComparison(p, k, "$eq", v, used)
			continue
		}

		for _, op := range ops.Keys() {
			ov, _ := ops.Get(op)
			addComparison(p, k, op, ov, used)
		}
	}
}

// addComparison adds one operator's condition when it can be said in SQL exactly for non-odd
// values; MongoDB compares within a type only, as the rank term does.
func addComparison(p *typedPlan, field, op string, v any, used map[string]bool) {
	rank := metadata.TypedRank(field)
	value := metadata.TypedValue(field)

	if _, isNull := v.(types.NullType); isNull && op == "$eq" {
		p.where = append(p.where, rank+" = 2", value+" IS NULL")
		p.fixed[rank], p.fixed[value] = true, true
		used[field] = true

		return
	}

	if op == "$in" {
		addIn(p, field, v, used)
		return
	}

	sqlOps := map[string]string{"$eq": "=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}

	sqlOp, okOp := sqlOps[op]
	r, arg, okValue := typedArg(v)

	if !okOp || !okValue {
		p.exact = false
		return
	}

	p.where = append(p.where, rank+" = ?", value+" "+sqlOp+" ?")
	p.args = append(p.args, r, arg)
	p.fixed[rank] = true
	p.fixed[value] = p.fixed[value] || op == "$eq"
	used[field] = true
}

// maxInValues bounds an `$in` that becomes SQL (SQLite's default limit of bound parameters is
// 32,766); a longer one stays for the handler.
const maxInValues = 10_000

// addIn adds `field IN (...)` for an `$in` whose values all have one type rank the typed
// expressions can say (strings, numbers, dates, ...; no null, which also matches a missing field,
// no regex, array or document): MongoDB's `$in` is then an equality to any of them, and the field
// holds no array anywhere (the odd-type probe), so the condition is exact. SQLite answers it with
// one index seek per value. Anything else leaves the `$in` to the handler.
func addIn(p *typedPlan, field string, v any, used map[string]bool) {
	arr, ok := v.(*types.Array)
	if !ok || arr.Len() == 0 || arr.Len() > maxInValues {
		p.exact = false
		return
	}

	var rank int64

	args := make([]any, 0, arr.Len()+1)
	args = append(args, nil) // the rank, set below

	for i := 0; i < arr.Len(); i++ {
		el, _ := arr.Get(i)

		r, arg, okValue := typedArg(el)
		if !okValue || (i > 0 && r != rank) {
			p.exact = false
			return
		}

		rank = r
		args = append(args, arg)
	}

	args[0] = rank

	p.where = append(p.where, metadata.TypedRank(field)+" = ?", metadata.TypedValue(field)+" IN (?"+strings.Repeat(", ?", arr.Len()-1)+")")
	p.args = append(p.args, args...)
	p.fixed[metadata.TypedRank(field)] = true
	used[field] = true
}

// typedArg returns a filter value's rank and SQL value as the typed expressions give them.
func typedArg(v any) (int64, any, bool) {
	switch v := v.(type) {
	case string:
		return 4, v, true
	case int32:
		return 3, int64(v), true
	case int64:
		return 3, v, true
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, nil, false
		}

		return 3, v, true
	case types.ObjectID:
		return 8, hex.EncodeToString(v[:]), true
	case bool:
		if v {
			return 9, int64(1), true
		}

		return 9, int64(0), true
	case time.Time:
		return 10, v.UnixMilli(), true
	default:
		return 0, nil, false
	}
}

// quoteIdent quotes an SQLite identifier as fmt's %q does for the table names FerretDB makes.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
