/**
 * A fast path for decoding JSON with a `Schema`: a decoder compiled once from the schema's AST that returns the
 * decoded value, or {@link FAIL} when it rejects the input (or meets something it does not handle). The full
 * `Schema` decoder then runs, so a rejection still comes with its detailed `ParseError`, and an input the fast
 * path was unsure about is decided by `Schema` itself.
 *
 * The invariant: whenever the fast decoder succeeds on JSON input (what `JSON.parse` returns: plain objects with
 * string keys, arrays, primitives), its result equals what `Schema.decodeUnknownEither` returns for the same input
 * and options. Containers of values that decode to themselves are returned as they are (not copied), so the
 * result may share them with the input. It mirrors `ParseResult`'s parser node by node (`effect` 3.x), and skips
 * the work that cannot change the result:
 *
 * - no `Either` or `ParseIssue` is built on the success path;
 * - a container whose elements decode to themselves (`ReadonlyArray<string>`, `{ [k: string]: string }`,
 *   devices) is checked in one loop and returned as it is instead of being copied element by element;
 * - a `Struct` with `optionalWith(…, { default })` fields is a transformation whose type side `Schema` validates a
 *   second time; here a value that came out of the encoded side's decode is not checked again when the type
 *   side's schema is that value's own type (only defaults and transformed values are);
 * - `DateTimeUtc` parses LXD's RFC 3339 shape by hand (else `Date`, as `DateTime.unsafeMake` does) and builds the
 *   `DateTime.Utc` as `DateTime` does, without the intermediate `Date` and `Either`;
 * - structs become straight-line code (`new Function` over constant property names, one call site per field, the
 *   output as one object literal), so V8 sees monomorphic reads of the same-shaped JSON objects; where eval is
 *   refused (a CSP, some edge runtimes) the same steps are interpreted.
 *
 * Anything else (async or effectful transformations, discriminated unions, symbol keys, tuples with elements,
 * `propertyOrder: "original"`, `decodingFallback`) is delegated to `ParseResult` for that subtree.
 *
 * @internal
 */
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"

/**
 * What a fast decoder returns when it rejects its input.
 *
 * @internal
 */
export const FAIL: unique symbol = Symbol.for("@effect-lxd/core/internal/fastDecode/FAIL") as never

/** @internal */
export type FAIL = typeof FAIL

/**
 * A compiled decoder: the decoded value, or {@link FAIL}.
 *
 * @internal
 */
export type FastDecoder = (input: unknown) => unknown

interface Options {
  readonly onExcessProperty: "ignore" | "error" | "preserve"
  readonly exact: boolean
  readonly propertyOrder: "none" | "original"
  /** Generate straight-line code for structs (`new Function`); off, or where eval is refused, they are interpreted. */
  readonly codegen: boolean
}

interface Node {
  readonly decode: FastDecoder
  /** On success the output is the input itself (a guard): such values need no copy and no re-validation. */
  readonly identity: boolean
}

const hasOwn = Object.prototype.hasOwnProperty

const isRecord = (u: unknown): u is Record<PropertyKey, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const guard = (predicate: (u: unknown) => boolean): Node => ({
  decode: (u) => (predicate(u) ? u : FAIL),
  identity: true
})

const isString = (u: unknown) => typeof u === "string"
// the keywords decode without a predicate call; containers of strings test `typeof` inline
const STRING: Node = { decode: (u) => (typeof u === "string" ? u : FAIL), identity: true }
const NUMBER: Node = { decode: (u) => (typeof u === "number" ? u : FAIL), identity: true }
const BOOLEAN: Node = { decode: (u) => (typeof u === "boolean" ? u : FAIL), identity: true }
const ANY: Node = { decode: (u) => u, identity: true }

const toOptions = (options: AST.ParseOptions | undefined, codegen: boolean): Options => ({
  onExcessProperty: options?.onExcessProperty ?? "ignore",
  exact: options?.exact === true,
  propertyOrder: options?.propertyOrder ?? "none",
  codegen
})

const toParseOptions = (o: Options): AST.ParseOptions => ({
  onExcessProperty: o.onExcessProperty,
  exact: o.exact,
  propertyOrder: o.propertyOrder
})

const optionsKey = (o: Options) => `${o.onExcessProperty}|${o.exact}|${o.propertyOrder}|${o.codegen}`

const mergeOptions = (o: Options, override: AST.ParseOptions): Options => ({
  onExcessProperty: override.onExcessProperty ?? o.onExcessProperty,
  exact: override.exact ?? o.exact,
  propertyOrder: override.propertyOrder ?? o.propertyOrder,
  codegen: o.codegen
})

// one memo per options combination; ASTs are immutable, so a compiled node stays valid
const memos = new Map<string, WeakMap<AST.AST, Node>>()

const memoFor = (o: Options) => {
  const key = optionsKey(o)
  let memo = memos.get(key)
  if (memo === undefined) {
    memo = new WeakMap()
    memos.set(key, memo)
  }
  return memo
}

/** `ParseResult`'s own parser for a subtree the fast path does not handle. */
const delegate = (ast: AST.AST, o: Options): Node => {
  const decode = ParseResult.decodeUnknownEither(Schema.make(ast), toParseOptions(o))
  return {
    decode: (u) => {
      const r = decode(u)
      return r._tag === "Right" ? r.right : FAIL
    },
    identity: false
  }
}

const compileNode = (ast: AST.AST, o: Options): Node => {
  const memo = memoFor(o)
  const cached = memo.get(ast)
  if (cached !== undefined) return cached
  // a placeholder for recursive schemas (`Schema.suspend`): resolved on first use
  const cell: { node?: Node } = {}
  memo.set(ast, { decode: (u) => cell.node!.decode(u), identity: false })
  const node = build(ast, o)
  cell.node = node
  memo.set(ast, node)
  return node
}

const build = (ast: AST.AST, outer: Options): Node => {
  const annotated = AST.getParseOptionsAnnotation(ast)
  const o = Option.isSome(annotated) ? mergeOptions(outer, annotated.value) : outer
  if (Option.isSome(AST.getDecodingFallbackAnnotation(ast))) return delegate(ast, o)
  switch (ast._tag) {
    case "StringKeyword":
      return STRING
    case "NumberKeyword":
      return NUMBER
    case "BooleanKeyword":
      return BOOLEAN
    case "UnknownKeyword":
    case "AnyKeyword":
    case "VoidKeyword":
      return ANY
    case "UndefinedKeyword":
      return guard((u) => u === undefined)
    case "NeverKeyword":
      return guard(() => false)
    case "BigIntKeyword":
      return guard((u) => typeof u === "bigint")
    case "SymbolKeyword":
      return guard((u) => typeof u === "symbol")
    case "ObjectKeyword":
      return guard((u) => (typeof u === "object" && u !== null) || typeof u === "function")
    case "Literal": {
      const literal = ast.literal
      return guard((u) => u === literal)
    }
    case "UniqueSymbol": {
      const symbol = ast.symbol
      return guard((u) => u === symbol)
    }
    case "Enums": {
      const values = ast.enums.map(([, value]) => value)
      return guard((u) => values.includes(u as string | number))
    }
    case "Union":
      return union(ast, o)
    case "TupleType":
      return tuple(ast, o)
    case "TypeLiteral":
      return typeLiteral(ast, o)
    case "Refinement": {
      const from = compileNode(ast.from, o)
      const filter = ast.filter
      const parseOptions = toParseOptions(o)
      return {
        decode: (u) => {
          const a = from.decode(u)
          if (a === FAIL) return FAIL
          return Option.isNone(filter(a, parseOptions, ast)) ? a : FAIL
        },
        identity: from.identity
      }
    }
    case "Transformation":
      return transformation(ast, o)
    case "Declaration": {
      const parse = ast.decodeUnknown(...ast.typeParameters)
      const parseOptions = toParseOptions(o)
      return {
        decode: (u) => {
          const r = parse(u, parseOptions, ast)
          return Either.isEither(r) ? (r._tag === "Right" ? r.right : FAIL) : FAIL
        },
        identity: false
      }
    }
    case "Suspend": {
      let node: Node | undefined
      return { decode: (u) => (node ??= compileNode(ast.f(), o)).decode(u), identity: false }
    }
    default:
      return delegate(ast, o)
  }
}

// --- unions ----------------------------------------------------------------------------------------------

/** Mirrors `ParseResult.getLiterals`: a member with literal-typed keys makes `ParseResult` reorder the members. */
const hasLiteralKeys = (ast: AST.AST): boolean => {
  switch (ast._tag) {
    case "Declaration": {
      const surrogate = AST.getSurrogateAnnotation(ast)
      return Option.isSome(surrogate) && hasLiteralKeys(surrogate.value)
    }
    case "TypeLiteral":
      return ast.propertySignatures.some((ps) => !ps.isOptional && AST.isLiteral(AST.encodedAST(ps.type)))
    case "TupleType":
      return ast.elements.some((e) => !e.isOptional && AST.isLiteral(AST.encodedAST(e.type)))
    case "Refinement":
      return hasLiteralKeys(ast.from)
    case "Suspend":
      return hasLiteralKeys(ast.f())
    case "Transformation":
      return hasLiteralKeys(ast.from)
    default:
      return false
  }
}

const union = (ast: AST.Union, o: Options): Node => {
  // a discriminated union: ParseResult tries the members in the order of its search tree
  if (ast.types.some(hasLiteralKeys)) return delegate(ast, o)
  const members = ast.types.map((t) => compileNode(t, o))
  if (members.every((m) => m.identity)) {
    // every member returns its input: which one accepts does not matter, so test the cheap catch-alls first
    const hasString = ast.types.some(AST.isStringKeyword)
    const rest = members.filter((_, i) =>
      !(hasString && AST.isLiteral(ast.types[i]!) && isString(ast.types[i]!.literal))
    )
    const decoders = rest.map((m) => m.decode)
    if (hasString) {
      const others = rest.filter((m) => m !== STRING).map((m) => m.decode)
      return {
        decode: (u) => {
          if (typeof u === "string") return u
          for (let i = 0; i < others.length; i++) if (others[i]!(u) !== FAIL) return u
          return FAIL
        },
        identity: true
      }
    }
    return {
      decode: (u) => {
        for (let i = 0; i < decoders.length; i++) if (decoders[i]!(u) !== FAIL) return u
        return FAIL
      },
      identity: true
    }
  }
  // without literal keys ParseResult tries the members in order and the first success wins
  const decoders = members.map((m) => m.decode)
  return {
    decode: (u) => {
      for (let i = 0; i < decoders.length; i++) {
        const r = decoders[i]!(u)
        if (r !== FAIL) return r
      }
      return FAIL
    },
    identity: false
  }
}

// --- arrays ----------------------------------------------------------------------------------------------

const tuple = (ast: AST.TupleType, o: Options): Node => {
  if (ast.elements.length > 0 || ast.rest.length !== 1) return delegate(ast, o)
  const item = compileNode(ast.rest[0]!.type, o)
  const decodeItem = item.decode
  if (item === STRING) {
    return {
      decode: (u) => {
        if (!Array.isArray(u)) return FAIL
        for (let i = 0; i < u.length; i++) if (typeof u[i] !== "string") return FAIL
        return u
      },
      identity: true
    }
  }
  if (item.identity) {
    return {
      decode: (u) => {
        if (!Array.isArray(u)) return FAIL
        for (let i = 0; i < u.length; i++) if (decodeItem(u[i]) === FAIL) return FAIL
        return u
      },
      identity: true
    }
  }
  return {
    decode: (u) => {
      if (!Array.isArray(u)) return FAIL
      const out = new Array<unknown>(u.length)
      for (let i = 0; i < u.length; i++) {
        const r = decodeItem(u[i])
        if (r === FAIL) return FAIL
        out[i] = r
      }
      return out
    },
    identity: false
  }
}

// --- structs and records ---------------------------------------------------------------------------------

interface Property {
  readonly name: string
  readonly isOptional: boolean
  readonly node: Node
  readonly decode: FastDecoder
  /** The name is also on `Object.prototype` (`constructor`, `toString`): presence needs `hasOwnProperty`. */
  readonly shadowed: boolean
}

// symbol keys, and `__proto__` (which an assignment or an object literal would turn into the prototype), are
// left to ParseResult
const property = (ps: AST.PropertySignature, o: Options): Property | undefined =>
  typeof ps.name === "string" && ps.name !== "__proto__"
    ? (() => {
      const node = compileNode(ps.type, o)
      return {
        name: ps.name,
        isOptional: ps.isOptional,
        node,
        decode: node.decode,
        shadowed: ps.name in Object.prototype
      }
    })()
    : undefined

/**
 * What ParseResult's type side reads for a key the transformed object lacks: `undefined`, or what
 * `Object.prototype` has under that name.
 */
const EMPTY: Record<string, unknown> = Object.freeze({}) as never

/** Reads a property as `ParseResult` does: absent (own key missing) or its value. */
const ABSENT: unique symbol = Symbol("absent") as never
const read = (input: Record<string, unknown>, p: Property): unknown => {
  const v = input[p.name]
  if (v === undefined || p.shadowed) return hasOwn.call(input, p.name) ? v : ABSENT
  return v
}

/** Decodes one property into `output`; `false` when it fails. Mirrors ParseResult's handling of missing keys. */
const decodeProperty = (
  input: Record<string, unknown>,
  p: Property,
  exact: boolean,
  output: Record<string, unknown>
): boolean => {
  let v = read(input, p)
  if (v === ABSENT) {
    if (p.isOptional) return true
    if (exact) return false
    // ParseResult decodes `input[name]`: `undefined`, or what Object.prototype has under that name
    v = input[p.name]
  }
  const r = p.decode(v)
  if (r === FAIL) return false
  output[p.name] = r
  return true
}

/** The checks a TypeLiteral (or its fused transformation) can run: `undefined` when it must be delegated. */
interface Shape {
  readonly props: ReadonlyArray<Property>
  readonly names: ReadonlySet<string>
  /** The value decoder of a `[k: string]` index signature, when there is one. */
  readonly index: Node | undefined
}

const shape = (ast: AST.TypeLiteral, o: Options): Shape | undefined => {
  if (o.propertyOrder !== "none") return undefined
  if (ast.indexSignatures.length > 1) return undefined
  const is = ast.indexSignatures[0]
  if (is !== undefined && !AST.isStringKeyword(is.parameter)) return undefined
  const props: Array<Property> = []
  for (const ps of ast.propertySignatures) {
    const p = property(ps, o)
    if (p === undefined) return undefined
    props.push(p)
  }
  return {
    props,
    names: new Set(props.map((p) => p.name)),
    index: is === undefined ? undefined : compileNode(is.type, o)
  }
}

/**
 * Excess keys first, as ParseResult does: `false` when one is an error, else copied when preserved. A struct with
 * a `[k: string]` index signature has no excess string keys.
 */
const excess = (input: Record<PropertyKey, unknown>, s: Shape, o: Options, output: Record<PropertyKey, unknown>) => {
  if (o.onExcessProperty === "ignore") return true
  for (const key of Reflect.ownKeys(input)) {
    if (typeof key === "string" && (s.index !== undefined || s.names.has(key))) continue
    if (o.onExcessProperty === "error") return false
    if (key === "__proto__") return false
    output[key] = input[key]
  }
  return true
}

/** The index signature's entries, after the property signatures (whose keys it validates but does not copy). */
const indexEntries = (input: Record<string, unknown>, s: Shape, output: Record<string, unknown>): boolean => {
  const decode = s.index!.decode
  for (const key of Object.keys(input)) {
    if (key === "__proto__") return false
    const r = decode(input[key])
    if (r === FAIL) return false
    if (!s.names.has(key)) output[key] = r
  }
  return true
}

const typeLiteral = (ast: AST.TypeLiteral, o: Options): Node => {
  if (ast.propertySignatures.length === 0 && ast.indexSignatures.length === 0) {
    return guard((u) => u !== null && u !== undefined)
  }
  const s = shape(ast, o)
  if (s === undefined) return delegate(ast, o)
  const { exact } = o
  const props = s.props
  // a record whose values decode to themselves: checked in one loop, returned as it is
  if (props.length === 0 && s.index === STRING) {
    return {
      decode: (u) => {
        if (!isRecord(u)) return FAIL
        for (const key in u) if (typeof u[key] !== "string" || key === "__proto__") return FAIL
        return u
      },
      identity: true
    }
  }
  if (props.length === 0 && s.index!.identity) {
    const decode = s.index!.decode
    return {
      decode: (u) => {
        if (!isRecord(u)) return FAIL
        // inherited enumerable keys (none in JSON) would only be checked too: a rejection is always safe
        for (const key in u) if (key === "__proto__" || decode(u[key]) === FAIL) return FAIL
        return u
      },
      identity: true
    }
  }
  if (s.index === undefined) {
    const generated = generateStruct(
      props.map((p) => ({
        from: p,
        to: p,
        pst: undefined,
        trusted: true,
        fromNode: p.node,
        toNode: p.node,
        plain: true
      })),
      s,
      o
    )
    if (generated !== undefined) return generated
  }
  return {
    decode: (u) => {
      if (!isRecord(u)) return FAIL
      const output: Record<string, unknown> = {}
      if (!excess(u, s, o, output)) return FAIL
      for (let i = 0; i < props.length; i++) if (!decodeProperty(u, props[i]!, exact, output)) return FAIL
      if (s.index !== undefined && !indexEntries(u, s, output)) return FAIL
      return output
    },
    identity: false
  }
}

// --- timestamps ------------------------------------------------------------------------------------------

const digit = (s: string, i: number): number => {
  const c = s.charCodeAt(i) - 48
  return c >= 0 && c <= 9 ? c : NaN
}
const two = (s: string, i: number) => digit(s, i) * 10 + digit(s, i + 1)

const daysInMonth = (year: number, month: number): number =>
  month === 2
    ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28)
    : month === 4 || month === 6 || month === 9 || month === 11
    ? 30
    : 31

/**
 * The epoch milliseconds of an RFC 3339 UTC timestamp as LXD writes it (`2024-05-01T10:00:00.123456789Z`,
 * `0001-01-01T00:00:00Z`), or `undefined` for any other shape or an out-of-range field: those go to `Date`, so
 * the result is always what `Date.parse` gives (fraction digits past milliseconds are truncated, as `Date` does).
 *
 * @internal
 */
export const parseUtcMillis = (s: string): number | undefined => {
  const len = s.length
  // separators by char code (no one-character strings): `-` 45, `T` 84, `:` 58, `Z` 90
  if (
    len < 20 || s.charCodeAt(len - 1) !== 90 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58
  ) return undefined
  const year = two(s, 0) * 100 + two(s, 2)
  const month = two(s, 5)
  const day = two(s, 8)
  const hour = two(s, 11)
  const minute = two(s, 14)
  const second = two(s, 17)
  // NaN (a non-digit) fails every comparison
  if (!(year >= 0 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59)) {
    return undefined
  }
  if (day > daysInMonth(year, month)) return undefined
  let ms = 0
  if (len > 20) {
    // `.` (46) and 1 to 9 digits
    if (len === 21 || len > 30 || s.charCodeAt(19) !== 46) return undefined
    for (let i = 20; i < len - 1; i++) {
      const d = s.charCodeAt(i) - 48
      if (d < 0 || d > 9) return undefined
      if (i < 23) ms = ms * 10 + d
    }
    // fewer than three digits: `.5` is 500 ms, `.05` 50 ms
    if (len === 22) ms *= 100
    else if (len === 23) ms *= 10
  }
  // days from 1970-01-01 (proleptic Gregorian, H. Hinnant's days_from_civil)
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  const days = era * 146097 + doe - 719468
  return ((days * 24 + hour) * 60 + minute) * 60000 + second * 1000 + ms
}

/**
 * A `DateTime.Utc` from epoch milliseconds, built as `DateTime` builds it (same prototype, same own properties),
 * without the `Date` that `DateTime.unsafeMake(number)` goes through. Checked against `DateTime.unsafeMake` when
 * the module loads; if `effect` ever builds them differently, `DateTime.unsafeMake` is used.
 */
const makeUtc: (epochMillis: number) => DateTime.Utc = (() => {
  const reference = DateTime.unsafeMake(0)
  const proto = Object.getPrototypeOf(reference) as object
  const partsUtc: PropertyDescriptor = { value: undefined, enumerable: false, writable: true }
  const build = (epochMillis: number): DateTime.Utc => {
    const self = Object.create(proto)
    self.epochMillis = epochMillis
    Object.defineProperty(self, "partsUtc", partsUtc)
    return self
  }
  const describe = (u: object) => JSON.stringify(Object.getOwnPropertyDescriptors(u))
  const candidate = build(0)
  return describe(candidate) === describe(reference) && Reflect.ownKeys(reference).length === 2 &&
      DateTime.isUtc(candidate) && DateTime.Equivalence(candidate, reference)
    ? build
    : (epochMillis) => DateTime.unsafeMake(epochMillis) as DateTime.Utc
})()

/** `DateTime.unsafeMake(s)` as `Schema.DateTimeUtc` decodes a string, or {@link FAIL}. */
const decodeTimestamp = (s: string): unknown => {
  const millis = parseUtcMillis(s)
  if (millis !== undefined) return makeUtc(millis)
  try {
    return DateTime.unsafeMake(s)
  } catch {
    return FAIL
  }
}

// --- transformations -------------------------------------------------------------------------------------

const DateTimeUtcTransformation = (Schema.DateTimeUtc.ast as AST.Transformation).transformation

const transformation = (ast: AST.Transformation, o: Options): Node => {
  const t = ast.transformation
  if (t === DateTimeUtcTransformation) {
    const from = compileNode(ast.from, o).decode
    return {
      decode: (u) => {
        const s = from(u)
        if (s === FAIL) return FAIL
        return decodeTimestamp(s as string)
      },
      identity: false
    }
  }
  switch (t._tag) {
    case "FinalTransformation": {
      const from = compileNode(ast.from, o).decode
      const to = compileNode(ast.to, o).decode
      const decode = t.decode
      const parseOptions = toParseOptions(o)
      return {
        decode: (u) => {
          const a = from(u)
          if (a === FAIL) return FAIL
          const r = decode(a, parseOptions, ast, u)
          if (!Either.isEither(r) || r._tag === "Left") return FAIL
          return to(r.right)
        },
        identity: false
      }
    }
    case "ComposeTransformation": {
      const from = compileNode(ast.from, o).decode
      const to = compileNode(ast.to, o).decode
      return {
        decode: (u) => {
          const a = from(u)
          return a === FAIL ? FAIL : to(a)
        },
        identity: false
      }
    }
    case "TypeLiteralTransformation":
      return structTransformation(ast, t, o) ?? genericStructTransformation(ast, t, o)
  }
}

/** `from`, the property transformations on a copy, then `to`: ParseResult's steps, without the Eithers. */
const genericStructTransformation = (
  ast: AST.Transformation,
  t: AST.TypeLiteralTransformation,
  o: Options
): Node => {
  const from = compileNode(ast.from, o)
  const to = compileNode(ast.to, o).decode
  const psts = t.propertySignatureTransformations
  return {
    decode: (u) => {
      let a = from.decode(u)
      if (a === FAIL) return FAIL
      if (!isRecord(a)) return FAIL
      const out: Record<PropertyKey, unknown> = from.identity ? { ...a } : a
      for (const pst of psts) {
        const r = pst.decode(hasOwn.call(out, pst.from) ? Option.some(out[pst.from]) : Option.none())
        delete out[pst.from]
        if (Option.isSome(r)) out[pst.to] = r.value
      }
      a = out
      return to(a)
    },
    identity: false
  }
}

interface FusedProperty {
  readonly from: Property
  readonly to: Property
  readonly pst: AST.PropertySignatureTransformation | undefined
  /**
   * A non-nullish value decoded by `from` is valid for `to` as it is, so it is not decoded again (the type side of
   * a `Struct` field is the type side of its encoded schema).
   */
  readonly trusted: boolean
}

/**
 * The common `Struct` with `optionalWith` fields, fused into one pass: same property names in the same order on
 * both sides (no renames), no index signature. Each field: decode the encoded side, apply its property
 * transformation, and decode the type side only for values that did not come straight out of the first decode.
 */
const structTransformation = (
  ast: AST.Transformation,
  t: AST.TypeLiteralTransformation,
  o: Options
): Node | undefined => {
  const fromAst = ast.from
  const toAst = ast.to
  if (!AST.isTypeLiteral(fromAst) || !AST.isTypeLiteral(toAst)) return undefined
  if (fromAst.indexSignatures.length > 0 || toAst.indexSignatures.length > 0) return undefined
  if (fromAst.propertySignatures.length !== toAst.propertySignatures.length) return undefined
  // annotations that change how either side decodes are left to the generic path
  for (const side of [fromAst, toAst]) {
    if (Option.isSome(AST.getParseOptionsAnnotation(side))) return undefined
    if (Option.isSome(AST.getDecodingFallbackAnnotation(side))) return undefined
  }
  const fromShape = shape(fromAst, o)
  const toShape = shape(toAst, o)
  if (fromShape === undefined || toShape === undefined) return undefined
  const psts = new Map<PropertyKey, AST.PropertySignatureTransformation>()
  for (const pst of t.propertySignatureTransformations) {
    if (pst.from !== pst.to || psts.has(pst.from)) return undefined
    psts.set(pst.from, pst)
  }
  const fields: Array<FusedProperty> = []
  for (let i = 0; i < fromShape.props.length; i++) {
    const from = fromShape.props[i]!
    const to = toShape.props[i]!
    if (from.name !== to.name) return undefined
    const fromType = fromAst.propertySignatures[i]!.type
    const toType = toAst.propertySignatures[i]!.type
    fields.push({
      from,
      to,
      pst: psts.get(from.name),
      trusted: sameType(stripNullish(AST.typeAST(fromType)), stripNullish(toType)) && !ambiguous(toType, o)
    })
  }
  const generated = generateStruct(
    fields.map((f) => ({ ...f, fromNode: f.from.node, toNode: f.to.node, plain: false })),
    fromShape,
    o
  )
  if (generated !== undefined) return generated
  const { exact } = o
  // when every key ends up in the output, in this order, start from a copy of a template with all of them: a
  // cloned shape instead of one property added at a time
  const template: Record<string, unknown> | undefined =
    o.onExcessProperty !== "preserve" && fields.every((f) => !f.to.isOptional)
      ? Object.fromEntries(fields.map((f) => [f.to.name, undefined]))
      : undefined
  return {
    decode: (u) => {
      if (!isRecord(u)) return FAIL
      const output: Record<string, unknown> = template === undefined ? {} : { ...template }
      // excess keys are judged against the encoded side's names, which are the type side's too
      if (!excess(u, fromShape, o, output)) return FAIL
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i]!
        // encoded side
        let v = read(u, f.from)
        let present = true
        if (v === ABSENT) {
          if (f.from.isOptional) present = false
          else if (exact) return FAIL
          else v = u[f.from.name]
        }
        let fromValue: unknown
        if (present) {
          fromValue = f.from.decode(v)
          if (fromValue === FAIL) return FAIL
        }
        // property transformation
        let value = fromValue
        if (f.pst !== undefined) {
          const r = f.pst.decode(present ? Option.some(fromValue) : Option.none())
          if (Option.isSome(r)) {
            value = r.value
            present = true
          } else {
            present = false
          }
        }
        // type side
        if (!present) {
          if (f.to.isOptional) continue
          if (exact) return FAIL
          value = EMPTY[f.to.name]
        } else if (f.trusted && value === fromValue && value !== null && value !== undefined) {
          output[f.to.name] = value
          continue
        }
        const r = f.to.decode(value)
        if (r === FAIL) return FAIL
        output[f.to.name] = r
      }
      return output
    },
    identity: false
  }
}

// --- generated struct decoders ---------------------------------------------------------------------------

interface GeneratedField extends FusedProperty {
  readonly fromNode: Node
  readonly toNode: Node
  /** A plain struct's field: one decode, no type side. */
  readonly plain: boolean
}

/** Whether `new Function` is allowed here (not under a CSP or in a worker runtime that refuses eval). */
let evalAllowed: boolean | undefined
const canEval = (): boolean => {
  if (evalAllowed === undefined) {
    try {
      evalAllowed = new Function("return 1")() === 1
    } catch {
      evalAllowed = false
    }
  }
  return evalAllowed
}

/** An expression that decodes `v` with `node`: the keyword checks inline, anything else a call to `name`. */
const decodeExpression = (node: Node, v: string, name: string): string =>
  node === STRING
    ? `(typeof ${v} === "string" ? ${v} : FAIL)`
    : node === NUMBER
    ? `(typeof ${v} === "number" ? ${v} : FAIL)`
    : node === BOOLEAN
    ? `(typeof ${v} === "boolean" ? ${v} : FAIL)`
    : node === ANY
    ? v
    : `${name}(${v})`

/**
 * The struct decoder as straight-line code, the same steps as the interpreted one (the fused transformation with
 * `pst` and `trusted`, or a plain struct with neither): constant property names, so reads of same-shaped JSON
 * objects hit one inline cache; each field's decoders and property transformation called from their own site;
 * the output built as one object literal when every key is always there.
 */
const generateStruct = (fields: ReadonlyArray<GeneratedField>, s: Shape, o: Options): Node | undefined => {
  if (!o.codegen || !canEval()) return undefined
  const exact = o.exact
  const lines: Array<string> = []
  const env: Record<string, unknown> = {
    FAIL,
    ABSENT,
    EMPTY,
    hasOwn,
    isSome: Option.isSome,
    some: Option.some,
    none: Option.none(),
    excess: (u: Record<string, unknown>, out: Record<string, unknown>) => excess(u, s, o, out)
  }
  const literal = o.onExcessProperty !== "preserve" && fields.every((f) => !f.to.isOptional)
  lines.push(`if (typeof u !== "object" || u === null || Array.isArray(u)) return FAIL;`)
  lines.push(`let v, fv, r, present;`)
  if (o.onExcessProperty === "error") lines.push(`if (!excess(u, {})) return FAIL;`)
  fields.forEach((f, i) => {
    const key = JSON.stringify(f.from.name)
    const d = `D${i}`
    const t = `T${i}`
    const p = `P${i}`
    env[d] = f.fromNode.decode
    env[t] = f.toNode.decode
    if (f.pst !== undefined) env[p] = f.pst.decode
    lines.push(`v = u[${key}];`)
    lines.push(
      f.from.shadowed
        ? `present = hasOwn.call(u, ${key});`
        : `present = v !== undefined || hasOwn.call(u, ${key});`
    )
    if (!f.from.isOptional) lines.push(exact ? `if (!present) return FAIL;` : `present = true;`)
    lines.push(`fv = FAIL;`)
    lines.push(`if (present) { fv = ${decodeExpression(f.fromNode, "v", d)}; if (fv === FAIL) return FAIL; }`)
    if (f.plain) {
      lines.push(`const x${i} = present ? fv : ABSENT;`)
      return
    }
    if (f.pst !== undefined) {
      lines.push(`r = ${p}(present ? some(fv) : none);`)
      lines.push(`if (isSome(r)) { v = r.value; present = true; } else { present = false; }`)
    } else {
      lines.push(`v = fv;`)
    }
    const toDecode = `${decodeExpression(f.toNode, "v", t)}`
    const missing = f.to.isOptional
      ? `x${i} = ABSENT;`
      : exact
      ? `return FAIL;`
      : `v = EMPTY[${JSON.stringify(f.to.name)}]; x${i} = ${toDecode}; if (x${i} === FAIL) return FAIL;`
    const trusted = f.trusted
      ? `(${f.pst !== undefined ? "v === fv && " : ""}v !== null && v !== undefined)`
      : "false"
    lines.push(`let x${i};`)
    lines.push(
      `if (!present) { ${missing} } else if (${trusted}) { x${i} = v; } else { x${i} = ${toDecode}; if (x${i} === FAIL) return FAIL; }`
    )
  })
  if (literal) {
    lines.push(`return { ${fields.map((f, i) => `${JSON.stringify(f.to.name)}: x${i}`).join(", ")} };`)
  } else {
    lines.push(`const out = {};`)
    if (o.onExcessProperty === "preserve") lines.push(`if (!excess(u, out)) return FAIL;`)
    fields.forEach((f, i) => lines.push(`if (x${i} !== ABSENT) out[${JSON.stringify(f.to.name)}] = x${i};`))
    lines.push(`return out;`)
  }
  const names = Object.keys(env)
  const source = `"use strict";\nconst { ${names.join(", ")} } = env;\nreturn function decodeStruct(u) {\n${
    lines.join("\n")
  }\n};`
  try {
    const decode = new Function("env", source)(env) as FastDecoder
    return { decode, identity: false }
  } catch {
    return undefined
  }
}

/** A union's `null` and `undefined` members removed (`NullOr(X)` → `X`). */
const stripNullish = (ast: AST.AST): AST.AST => {
  if (!AST.isUnion(ast)) return ast
  const kept = ast.types.filter((t) => !(AST.isUndefinedKeyword(t) || (AST.isLiteral(t) && t.literal === null)))
  return kept.length === ast.types.length ? ast : AST.Union.make(kept)
}

/**
 * Whether decoding a valid value could pick another union member than the one that produced it (two members
 * that build new values): then the type side must decode it again, as ParseResult does.
 */
const ambiguous = (ast: AST.AST, o: Options, seen: Set<AST.AST> = new Set()): boolean => {
  if (seen.has(ast)) return false
  seen.add(ast)
  switch (ast._tag) {
    case "Union":
      return ast.types.filter((t) => !compileNode(t, o).identity).length > 1 ||
        ast.types.some((t) => ambiguous(t, o, seen))
    case "TypeLiteral":
      return ast.propertySignatures.some((ps) => ambiguous(ps.type, o, seen)) ||
        ast.indexSignatures.some((is) => ambiguous(is.type, o, seen))
    case "TupleType":
      return ast.elements.some((e) => ambiguous(e.type, o, seen)) || ast.rest.some((r) => ambiguous(r.type, o, seen))
    case "Refinement":
      return ambiguous(ast.from, o, seen)
    case "Transformation":
      return ambiguous(ast.from, o, seen) || ambiguous(ast.to, o, seen)
    case "Declaration":
      return ast.typeParameters.some((tp) => ambiguous(tp, o, seen))
    case "Suspend":
      return true
    default:
      return false
  }
}

/** Structural equality of two ASTs as far as decoding goes (annotations aside). */
const sameType = (a: AST.AST, b: AST.AST): boolean => {
  if (a === b) return true
  if (a._tag !== b._tag) return false
  switch (a._tag) {
    case "Literal":
      return a.literal === (b as AST.Literal).literal
    case "UniqueSymbol":
      return a.symbol === (b as AST.UniqueSymbol).symbol
    case "StringKeyword":
    case "NumberKeyword":
    case "BooleanKeyword":
    case "BigIntKeyword":
    case "SymbolKeyword":
    case "ObjectKeyword":
    case "UnknownKeyword":
    case "AnyKeyword":
    case "VoidKeyword":
    case "UndefinedKeyword":
    case "NeverKeyword":
      return true
    case "Declaration": {
      const d = b as AST.Declaration
      return a.decodeUnknown === d.decodeUnknown && sameList(a.typeParameters, d.typeParameters)
    }
    case "Union":
      return sameList(a.types, (b as AST.Union).types)
    case "TupleType": {
      const t = b as AST.TupleType
      return a.elements.length === t.elements.length &&
        a.elements.every((e, i) =>
          e.isOptional === t.elements[i]!.isOptional && sameType(e.type, t.elements[i]!.type)
        ) &&
        sameList(a.rest.map((r) => r.type), t.rest.map((r) => r.type))
    }
    case "TypeLiteral": {
      const t = b as AST.TypeLiteral
      return a.propertySignatures.length === t.propertySignatures.length &&
        a.propertySignatures.every((ps, i) => {
          const q = t.propertySignatures[i]!
          return ps.name === q.name && ps.isOptional === q.isOptional && sameType(ps.type, q.type)
        }) &&
        a.indexSignatures.length === t.indexSignatures.length &&
        a.indexSignatures.every((is, i) => {
          const q = t.indexSignatures[i]!
          return sameType(is.parameter, q.parameter) && sameType(is.type, q.type)
        })
    }
    case "Refinement": {
      const r = b as AST.Refinement
      return a.filter === r.filter && sameType(a.from, r.from)
    }
    default:
      return false
  }
}

const sameList = (as: ReadonlyArray<AST.AST>, bs: ReadonlyArray<AST.AST>) =>
  as.length === bs.length && as.every((x, i) => sameType(x, bs[i]!))

// --- entry points ----------------------------------------------------------------------------------------

/**
 * Compiles (once per schema and options) the fast decoder of a schema.
 *
 * @internal
 */
export const compile = (
  ast: AST.AST,
  options?: AST.ParseOptions,
  internal?: { readonly codegen?: boolean | undefined }
): FastDecoder => {
  const node = compileNode(ast, toOptions(options, internal?.codegen ?? true))
  const decode = node.decode
  return (u) => {
    try {
      return decode(u)
    } catch {
      // a transformation or default that throws: let Schema report it its own way
      return FAIL
    }
  }
}

/**
 * `Schema.decodeUnknownEither(schema, options)` with the fast path in front: the same results, and the same
 * `ParseError` when the input does not match.
 *
 * @internal
 */
export const decodeUnknownEither = <A, I>(
  schema: Schema.Schema<A, I, never>,
  options?: AST.ParseOptions
): (u: unknown) => Either.Either<A, ParseResult.ParseError> =>
  onFirstUse(() => {
    const fast = compile(schema.ast, options)
    const slow = Schema.decodeUnknownEither(schema, options)
    return (u) => {
      const r = fast(u)
      return r === FAIL ? slow(u) : Either.right(r as A)
    }
  })

/**
 * {@link compile}, done on the decoder's first call instead of now: modules keep their decoders as constants,
 * and a program that never decodes an event or an exec answer should not compile them when it imports the
 * package (compiling is most of a module's own load time).
 *
 * @internal
 */
export const compileOnFirstUse = (ast: AST.AST, options?: AST.ParseOptions): FastDecoder =>
  onFirstUse(() => compile(ast, options))

/**
 * A function built on its first call (then that one, called directly).
 *
 * @internal
 */
export const onFirstUse = <F extends (u: unknown) => unknown>(build: () => F): F => {
  let f: F | undefined
  return ((u: unknown) => (f ??= build())(u)) as F
}
