package ugm.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import ugm.core.DType;
import ugm.io.TorchException.Rule;
import ugm.io.TorchValue.BoolValue;
import ugm.io.TorchValue.BytesValue;
import ugm.io.TorchValue.DictValue;
import ugm.io.TorchValue.FloatValue;
import ugm.io.TorchValue.GlobalValue;
import ugm.io.TorchValue.IntValue;
import ugm.io.TorchValue.ListValue;
import ugm.io.TorchValue.NoneValue;
import ugm.io.TorchValue.SetValue;
import ugm.io.TorchValue.StrValue;
import ugm.io.TorchValue.TensorValue;
import ugm.io.TorchValue.TupleValue;

/**
 * A pickle machine for what {@code torch.save} writes, that never runs anything. It knows the
 * binary opcodes of protocols 2 to 5 (text-mode opcodes other than GLOBAL are refused), and a
 * global is only ever resolved against a fixed allow-list of data types: the tensor and parameter
 * rebuild functions, the storage classes and dtypes, {@code collections.OrderedDict},
 * {@code torch.Size}, {@code torch.device}, sets and the latin-1 bytes encoding of protocol 2.
 * Any other global is refused by name before anything uses it.
 *
 * <p>Everything it builds is bounded: objects pushed (which bounds the stack, the memo and every
 * container), the length of each string, and the nesting of the result (which also refuses
 * recursive structures). The pickle's bytes are read from the mapping in place.
 */
final class Unpickler {

    static final int MAX_OBJECTS = 2_000_000;
    static final int MAX_DEPTH = 100;
    static final int MAX_RANK = 64;
    static final int MAX_TEXT = 16 << 20;
    static final int MAX_KEY_VALUES = 1000;
    private static final int MAX_GLOBAL_NAME = 512;

    /** A storage: the bytes of entry {@code data/<key>}, with the element type its pickle declares (null: untyped). */
    record Storage(String key, DType dtype, String typeName, MemorySegment bytes) {
    }

    /** Loads the storage a persistent id names. */
    interface Storages {
        Storage load(String key, Allowed type, long elements, String location);
    }

    /** What an allowed global is; the only things the machine can do with one. */
    enum Kind {
        ORDERED_DICT, SET, FROZENSET, SIZE, DEVICE, ENCODE, REBUILD_TENSOR, REBUILD_TENSOR_V2, REBUILD_TENSOR_V3,
        REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE, REBUILD_FROM_TYPE_V2, TENSOR_TYPE, STORAGE_TYPE, DTYPE
    }

    /** An allowed global. {@code dtype} for storage classes and dtypes (null: untyped storage, or no safetensors dtype). */
    record Allowed(String module, String name, Kind kind, DType dtype) {
        String qualified() {
            return module + "." + name;
        }
    }

    private static final Map<String, Allowed> ALLOWED = allowList();

    private static Map<String, Allowed> allowList() {
        Map<String, Allowed> m = new HashMap<>();
        java.util.function.BiConsumer<String, Kind> add = (q, k) -> {
            int dot = q.lastIndexOf('.');
            m.put(q, new Allowed(q.substring(0, dot), q.substring(dot + 1), k, null));
        };
        add.accept("collections.OrderedDict", Kind.ORDERED_DICT);
        for (String b : new String[] {"builtins", "__builtin__"}) {
            add.accept(b + ".set", Kind.SET);
            add.accept(b + ".frozenset", Kind.FROZENSET);
        }
        add.accept("_codecs.encode", Kind.ENCODE);
        add.accept("torch.Size", Kind.SIZE);
        add.accept("torch.device", Kind.DEVICE);
        add.accept("torch._utils._rebuild_tensor", Kind.REBUILD_TENSOR);
        add.accept("torch._utils._rebuild_tensor_v2", Kind.REBUILD_TENSOR_V2);
        add.accept("torch._utils._rebuild_tensor_v3", Kind.REBUILD_TENSOR_V3);
        add.accept("torch._utils._rebuild_parameter", Kind.REBUILD_PARAMETER);
        add.accept("torch._utils._rebuild_parameter_with_state", Kind.REBUILD_PARAMETER_WITH_STATE);
        add.accept("torch._tensor._rebuild_from_type_v2", Kind.REBUILD_FROM_TYPE_V2);
        add.accept("torch.Tensor", Kind.TENSOR_TYPE);
        add.accept("torch.nn.parameter.Parameter", Kind.TENSOR_TYPE);
        Object[][] storages = {
            {"DoubleStorage", DType.F64}, {"FloatStorage", DType.F32}, {"HalfStorage", DType.F16},
            {"BFloat16Storage", DType.BF16}, {"LongStorage", DType.I64}, {"IntStorage", DType.I32},
            {"ShortStorage", DType.I16}, {"CharStorage", DType.I8}, {"ByteStorage", DType.U8},
            {"BoolStorage", DType.BOOL}, {"ComplexFloatStorage", DType.C64}, {"ComplexDoubleStorage", null},
            {"QInt8Storage", null}, {"QUInt8Storage", null}, {"QInt32Storage", null}, {"QUInt4x2Storage", null},
            {"QUInt2x4Storage", null}, {"UntypedStorage", null}};
        for (Object[] s : storages) {
            m.put("torch." + s[0], new Allowed("torch", (String) s[0], Kind.STORAGE_TYPE, (DType) s[1]));
        }
        Object[][] dtypes = {
            {"float32", DType.F32}, {"float", DType.F32}, {"float64", DType.F64}, {"double", DType.F64},
            {"float16", DType.F16}, {"half", DType.F16}, {"bfloat16", DType.BF16}, {"int64", DType.I64},
            {"long", DType.I64}, {"int32", DType.I32}, {"int", DType.I32}, {"int16", DType.I16}, {"short", DType.I16},
            {"int8", DType.I8}, {"uint8", DType.U8}, {"bool", DType.BOOL}, {"complex64", DType.C64},
            {"cfloat", DType.C64}, {"uint16", DType.U16}, {"uint32", DType.U32}, {"uint64", DType.U64},
            {"float8_e5m2", DType.F8_E5M2}, {"float8_e4m3fn", DType.F8_E4M3}, {"float8_e5m2fnuz", DType.F8_E5M2FNUZ},
            {"float8_e4m3fnuz", DType.F8_E4M3FNUZ}, {"float8_e8m0fnu", DType.F8_E8M0},
            {"complex128", null}, {"cdouble", null}, {"complex32", null}, {"chalf", null}, {"qint8", null},
            {"quint8", null}, {"qint32", null}, {"quint4x2", null}, {"quint2x4", null}, {"float4_e2m1fn_x2", null},
            {"bits8", null}, {"bits16", null}, {"bits1x8", null}, {"bits2x4", null}, {"bits4x2", null}};
        for (Object[] d : dtypes) {
            m.put("torch." + d[0], new Allowed("torch", (String) d[0], Kind.DTYPE, (DType) d[1]));
        }
        return Map.copyOf(m);
    }

    // The machine's own mutable objects, turned into TorchValues by finish().
    private static final class PList {
        final ArrayList<Object> items = new ArrayList<>();
    }

    private static final class PDict {
        final LinkedHashMap<TorchValue, Object> map = new LinkedHashMap<>();
    }

    private static final class PSet {
        final LinkedHashSet<TorchValue> items = new LinkedHashSet<>();
        final boolean frozen;

        PSet(boolean frozen) {
            this.frozen = frozen;
        }
    }

    private record PTuple(Object[] items) {
    }

    /** {@code _rebuild_tensor*} arguments, checked once the tensor's place in the value (its name) is known. */
    private record PendingTensor(Storage storage, long offset, Object size, Object stride, DType dtype) {
    }

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64_BE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final MemorySegment pickle;
    private final String file;
    private final String entry;
    private final Storages storages;
    private final Map<String, Storage> loaded = new HashMap<>();
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final HashMap<Long, Object> memo = new HashMap<>();
    private long pos;
    private long opStart;
    private int pushes;

    private Unpickler(MemorySegment pickle, String file, String entry, Storages storages) {
        this.pickle = pickle;
        this.file = file;
        this.entry = entry;
        this.storages = storages;
    }

    /**
     * Runs the pickle and returns its value, every tensor checked against its storage.
     *
     * @param file    the file, for messages
     * @param entry   the pickle's entry name, for messages
     * @throws TorchException when the pickle is malformed, names a global off the allow-list, or a tensor does not fit
     */
    static TorchValue load(MemorySegment pickle, String file, String entry, Storages storages) {
        Unpickler u = new Unpickler(pickle, file, entry, storages);
        Object top = u.run();
        return u.finish(top, "", 0, new IdentityHashMap<>());
    }

    private TorchException bad(String problem) {
        return new TorchException(Rule.BAD_PICKLE, file, entry + " at byte " + opStart + ": " + problem);
    }

    private Object run() {
        while (true) {
            if (pos >= pickle.byteSize()) {
                throw bad("the pickle ends without a STOP opcode (truncated?)");
            }
            opStart = pos;
            int op = u8();
            switch (op) {
                case 0x80 -> { // PROTO
                    int v = u8();
                    if (v > 5) {
                        throw bad("pickle protocol " + v + " is newer than 5");
                    }
                }
                case 0x95 -> { // FRAME: a length hint only
                    long n = need8();
                    if (n < 0 || n > pickle.byteSize() - pos) {
                        throw bad("frame of " + Long.toUnsignedString(n) + " bytes runs past the pickle's end");
                    }
                }
                case '.' -> { // STOP
                    return pop();
                }
                case '(' -> { // MARK
                    marks.add(stack.size());
                    count();
                }
                case '0' -> { // POP
                    if (!marks.isEmpty() && marks.getLast() == stack.size()) {
                        marks.removeLast();
                    } else {
                        pop();
                    }
                }
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case '}' -> push(new PDict()); // EMPTY_DICT
                case ']' -> push(new PList()); // EMPTY_LIST
                case ')' -> push(new PTuple(new Object[0])); // EMPTY_TUPLE
                case 0x8f -> push(new PSet(false)); // EMPTY_SET
                case 'd' -> { // DICT
                    List<Object> items = popMark();
                    PDict d = new PDict();
                    setItems(d, items);
                    push(d);
                }
                case 'l' -> { // LIST
                    List<Object> items = popMark();
                    PList l = new PList();
                    l.items.addAll(items);
                    push(l);
                }
                case 't' -> push(new PTuple(popMark().toArray())); // TUPLE
                case 0x85 -> push(new PTuple(popN(1))); // TUPLE1
                case 0x86 -> push(new PTuple(popN(2))); // TUPLE2
                case 0x87 -> push(new PTuple(popN(3))); // TUPLE3
                case 's' -> { // SETITEM
                    Object[] kv = popN(2);
                    setItems(target(PDict.class, "SETITEM"), Arrays.asList(kv));
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popMark();
                    setItems(target(PDict.class, "SETITEMS"), items);
                }
                case 'a' -> { // APPEND
                    Object v = pop();
                    target(PList.class, "APPEND").items.add(v);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popMark();
                    target(PList.class, "APPENDS").items.addAll(items);
                }
                case 0x90 -> { // ADDITEMS
                    List<Object> items = popMark();
                    PSet s = target(PSet.class, "ADDITEMS");
                    if (s.frozen) {
                        throw bad("ADDITEMS on a frozenset");
                    }
                    for (Object o : items) {
                        s.items.add(key(o, 0));
                    }
                }
                case 0x91 -> { // FROZENSET
                    PSet s = new PSet(true);
                    for (Object o : popMark()) {
                        s.items.add(key(o, 0));
                    }
                    push(s);
                }
                case 'J' -> push(new IntValue(need4())); // BININT
                case 'K' -> push(new IntValue(u8())); // BININT1
                case 'M' -> push(new IntValue(u16())); // BININT2
                case 0x8a -> push(new IntValue(longOf(u8()))); // LONG1
                case 0x8b -> { // LONG4
                    int n = need4();
                    if (n < 0) {
                        throw bad("LONG4 with a negative length " + n);
                    }
                    push(new IntValue(longOf(n)));
                }
                case 'G' -> { // BINFLOAT
                    need(8);
                    push(new FloatValue(pickle.get(F64_BE, pos)));
                    pos += 8;
                }
                case 'X' -> push(new StrValue(text(Integer.toUnsignedLong(need4())))); // BINUNICODE
                case 0x8c -> push(new StrValue(text(u8()))); // SHORT_BINUNICODE
                case 0x8d -> push(new StrValue(text(need8()))); // BINUNICODE8
                case 'T' -> { // BINSTRING (Python 2 str; torch.load decodes it as UTF-8)
                    int n = need4();
                    if (n < 0) {
                        throw bad("BINSTRING with a negative length " + n);
                    }
                    push(new StrValue(text(n)));
                }
                case 'U' -> push(new StrValue(text(u8()))); // SHORT_BINSTRING
                case 'B' -> push(new BytesValue(bytes(Integer.toUnsignedLong(need4())))); // BINBYTES
                case 'C' -> push(new BytesValue(bytes(u8()))); // SHORT_BINBYTES
                case 0x8e -> push(new BytesValue(bytes(need8()))); // BINBYTES8
                case 'N' -> push(NoneValue.INSTANCE);
                case 0x88 -> push(new BoolValue(true)); // NEWTRUE
                case 0x89 -> push(new BoolValue(false)); // NEWFALSE
                case 'c' -> { // GLOBAL: "module\nname\n"
                    String module = line();
                    String name = line();
                    push(resolve(module, name));
                }
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop();
                    Object module = pop();
                    if (!(module instanceof StrValue m) || !(name instanceof StrValue n)) {
                        throw bad("STACK_GLOBAL needs two strings, got " + describe(module) + " and " + describe(name));
                    }
                    push(resolve(m.value(), n.value()));
                }
                case 'R' -> { // REDUCE
                    Object args = pop();
                    Object callable = pop();
                    push(call(callable, args, "REDUCE"));
                }
                case 0x81 -> { // NEWOBJ
                    Object args = pop();
                    Object cls = pop();
                    push(call(cls, args, "NEWOBJ"));
                }
                case 0x92 -> { // NEWOBJ_EX
                    Object kwargs = pop();
                    Object args = pop();
                    Object cls = pop();
                    if (!(kwargs instanceof PDict d) || !d.map.isEmpty()) {
                        throw bad("NEWOBJ_EX with keyword arguments");
                    }
                    push(call(cls, args, "NEWOBJ_EX"));
                }
                case 'b' -> { // BUILD: state on a dict (OrderedDict's _metadata) or a tensor is not data ugm keeps
                    Object state = pop();
                    Object target = peek();
                    if (!(target instanceof PDict || target instanceof PendingTensor)) {
                        throw bad("BUILD on " + describe(target) + " (ugm sets state only on dicts and tensors)");
                    }
                    if (!(state instanceof PDict || state instanceof PTuple || state == NoneValue.INSTANCE)) {
                        throw bad("BUILD with a state that is " + describe(state));
                    }
                }
                case 'q' -> memoPut(u8()); // BINPUT
                case 'r' -> memoPut(Integer.toUnsignedLong(need4())); // LONG_BINPUT
                case 0x94 -> memoPut(memo.size()); // MEMOIZE
                case 'h' -> push(memoGet(u8())); // BINGET
                case 'j' -> push(memoGet(Integer.toUnsignedLong(need4()))); // LONG_BINGET
                case 'Q' -> push(persistent(pop())); // BINPERSID
                default -> throw bad(String.format(Locale.ROOT, "unsupported or invalid opcode 0x%02x%s", op,
                        op >= 0x20 && op < 0x7f ? " ('" + (char) op + "')" : ""));
            }
        }
    }

    // ---- reading

    private void need(long n) {
        if (n < 0 || n > pickle.byteSize() - pos) {
            throw bad("the pickle is truncated: " + Long.toUnsignedString(n) + " bytes needed, " + (pickle.byteSize() - pos) + " left");
        }
    }

    private int u8() {
        need(1);
        return Byte.toUnsignedInt(pickle.get(ValueLayout.JAVA_BYTE, pos++));
    }

    private int u16() {
        need(2);
        int v = Short.toUnsignedInt(pickle.get(U16, pos));
        pos += 2;
        return v;
    }

    private int need4() {
        need(4);
        int v = pickle.get(I32, pos);
        pos += 4;
        return v;
    }

    private long need8() {
        need(8);
        long v = pickle.get(I64, pos);
        pos += 8;
        return v;
    }

    /** A little-endian two's-complement integer of n bytes (LONG1/LONG4), which must fit in 64 bits. */
    private long longOf(long n) {
        need(n);
        if (n > 8) {
            byte sign = (byte) (pickle.get(ValueLayout.JAVA_BYTE, pos + 7) < 0 ? -1 : 0);
            for (long i = 8; i < n; i++) { // bytes that only extend the sign are fine
                if (pickle.get(ValueLayout.JAVA_BYTE, pos + i) != sign) {
                    throw bad("an integer wider than 64 bits (" + n + " bytes); ugm reads 64-bit integers");
                }
            }
        }
        long v = 0;
        int width = (int) Math.min(n, 8);
        for (int i = 0; i < width; i++) {
            v |= (long) Byte.toUnsignedInt(pickle.get(ValueLayout.JAVA_BYTE, pos + i)) << (8 * i);
        }
        if (width > 0 && width < 8 && pickle.get(ValueLayout.JAVA_BYTE, pos + width - 1) < 0) {
            v |= -1L << (8 * width); // negative: extend the sign
        }
        pos += n;
        return v;
    }

    private byte[] bytes(long n) {
        if (n < 0 || n > MAX_TEXT) {
            need(n); // a truncation says so first
            throw new TorchException(Rule.TOO_LARGE, file, entry + " at byte " + opStart + ": a string of "
                    + Long.toUnsignedString(n) + " bytes, more than the " + MAX_TEXT + " ugm reads");
        }
        need(n);
        byte[] b = pickle.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
        pos += n;
        return b;
    }

    private String text(long n) {
        byte[] b = bytes(n);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(java.nio.ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw bad("a string that is not valid UTF-8");
        }
    }

    /** A GLOBAL line: printable ASCII up to a newline, bounded. */
    private String line() {
        StringBuilder sb = new StringBuilder();
        while (true) {
            int c = u8();
            if (c == '\n') {
                return sb.toString();
            }
            if (c < 0x20 || c > 0x7e || sb.length() >= MAX_GLOBAL_NAME) {
                throw bad("GLOBAL is not two lines of printable text");
            }
            sb.append((char) c);
        }
    }

    // ---- stack and memo

    private void count() {
        if (++pushes > MAX_OBJECTS) {
            throw new TorchException(Rule.TOO_LARGE, file, entry + ": more than " + MAX_OBJECTS + " objects; ugm reads no larger pickles");
        }
    }

    private void push(Object o) {
        count();
        stack.add(o);
    }

    private Object pop() {
        int floor = marks.isEmpty() ? 0 : marks.getLast();
        if (stack.size() <= floor) {
            throw bad("stack underflow");
        }
        return stack.removeLast();
    }

    private Object peek() {
        int floor = marks.isEmpty() ? 0 : marks.getLast();
        if (stack.size() <= floor) {
            throw bad("stack underflow");
        }
        return stack.getLast();
    }

    private Object[] popN(int n) {
        int floor = marks.isEmpty() ? 0 : marks.getLast();
        if (stack.size() - floor < n) {
            throw bad("stack underflow");
        }
        List<Object> top = stack.subList(stack.size() - n, stack.size());
        Object[] items = top.toArray();
        top.clear();
        return items;
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) {
            throw bad("no MARK to pop to");
        }
        int m = marks.removeLast();
        List<Object> top = stack.subList(m, stack.size());
        List<Object> items = new ArrayList<>(top);
        top.clear();
        return items;
    }

    private <T> T target(Class<T> type, String op) {
        Object t = peek();
        if (!type.isInstance(t)) {
            throw bad(op + " on " + describe(t));
        }
        return type.cast(t);
    }

    private void setItems(PDict d, List<Object> items) {
        if (items.size() % 2 != 0) {
            throw bad("an odd number of items for a dict");
        }
        for (int i = 0; i < items.size(); i += 2) {
            d.map.put(key(items.get(i), 0), items.get(i + 1));
        }
    }

    private void memoPut(long index) {
        if (memo.size() >= MAX_OBJECTS) {
            throw new TorchException(Rule.TOO_LARGE, file, entry + ": more than " + MAX_OBJECTS + " memo entries");
        }
        memo.put(index, peek());
    }

    private Object memoGet(long index) {
        Object o = memo.get(index);
        if (o == null) {
            throw bad("memo reference " + index + " is not in the memo (" + memo.size() + " entries)");
        }
        return o;
    }

    // ---- globals and calls

    private Allowed resolve(String module, String name) {
        Allowed a = ALLOWED.get(module + "." + name);
        if (a == null) {
            throw new TorchException(Rule.FORBIDDEN_GLOBAL, file, entry + ": refused global '" + module + "." + name
                    + "': not on ugm's allow-list of data types (ugm never runs code from a pickle)");
        }
        return a;
    }

    private Object call(Object callable, Object argsObject, String op) {
        if (!(callable instanceof Allowed f)) {
            throw bad(op + " calls " + describe(callable) + ", which is not a function");
        }
        if (!(argsObject instanceof PTuple(Object[] args))) {
            throw bad(op + " of " + f.qualified() + " with arguments that are " + describe(argsObject) + ", not a tuple");
        }
        return switch (f.kind()) {
            case ORDERED_DICT -> {
                if (args.length != 0) {
                    throw bad("collections.OrderedDict called with arguments");
                }
                yield new PDict();
            }
            case SET, FROZENSET -> {
                PSet s = new PSet(f.kind() == Kind.FROZENSET);
                if (args.length > 1) {
                    throw bad(f.qualified() + " called with " + args.length + " arguments");
                }
                if (args.length == 1) {
                    Object[] items = args[0] instanceof PList l ? l.items.toArray()
                            : args[0] instanceof PTuple(Object[] t) ? t : null;
                    if (items == null) {
                        throw bad(f.qualified() + " of " + describe(args[0]));
                    }
                    for (Object o : items) {
                        s.items.add(key(o, 0));
                    }
                }
                yield s;
            }
            case SIZE -> {
                if (args.length != 1 || !(args[0] instanceof PTuple)) {
                    throw bad("torch.Size needs one tuple");
                }
                yield args[0];
            }
            case DEVICE -> {
                if (args.length < 1 || args.length > 2 || !(args[0] instanceof StrValue type)
                        || (args.length == 2 && !(args[1] instanceof IntValue))) {
                    throw bad("torch.device needs a device type and an optional index");
                }
                yield new StrValue(args.length == 2 ? type.value() + ":" + ((IntValue) args[1]).value() : type.value());
            }
            case ENCODE -> {
                if (args.length != 2 || !(args[0] instanceof StrValue s) || !(args[1] instanceof StrValue enc)
                        || !(enc.value().equals("latin1") || enc.value().equals("latin-1"))) {
                    throw bad("_codecs.encode is read only as protocol 2 writes bytes: (str, 'latin1')");
                }
                byte[] b = new byte[s.value().length()];
                for (int i = 0; i < b.length; i++) {
                    char c = s.value().charAt(i);
                    if (c > 0xFF) {
                        throw bad("_codecs.encode of a character outside latin-1");
                    }
                    b[i] = (byte) c;
                }
                yield new BytesValue(b);
            }
            case REBUILD_TENSOR -> tensor(args, 4, 4, null);
            case REBUILD_TENSOR_V2 -> tensor(args, 6, 7, null);
            case REBUILD_TENSOR_V3 -> {
                if (args.length < 7 || !(args[6] instanceof Allowed d) || d.kind() != Kind.DTYPE) {
                    throw bad("torch._utils._rebuild_tensor_v3 needs a dtype as its seventh argument");
                }
                if (d.dtype() == null) {
                    throw new TorchException(Rule.BAD_TENSOR, file, "dtype " + d.qualified() + " has no safetensors equivalent");
                }
                yield tensor(args, 7, 8, d.dtype());
            }
            case REBUILD_PARAMETER, REBUILD_PARAMETER_WITH_STATE -> {
                int n = f.kind() == Kind.REBUILD_PARAMETER ? 3 : 4;
                if (args.length != n || !(args[0] instanceof PendingTensor)) {
                    throw bad(f.qualified() + " needs a tensor and " + (n - 1) + " more arguments");
                }
                yield args[0];
            }
            case REBUILD_FROM_TYPE_V2 -> {
                if (args.length != 4 || !(args[0] instanceof Allowed inner) || !(args[1] instanceof Allowed type)
                        || type.kind() != Kind.TENSOR_TYPE || !(args[2] instanceof PTuple)) {
                    throw bad("torch._tensor._rebuild_from_type_v2 needs a rebuild function, torch.Tensor or Parameter, and a tuple");
                }
                Object t = call(inner, args[2], op);
                if (!(t instanceof PendingTensor)) {
                    throw bad("torch._tensor._rebuild_from_type_v2 of " + inner.qualified() + ", which builds no tensor");
                }
                yield t;
            }
            case TENSOR_TYPE, STORAGE_TYPE, DTYPE -> throw bad(op + " calls " + f.qualified() + ", which ugm reads only as a name");
        };
    }

    private PendingTensor tensor(Object[] args, int min, int max, DType dtype) {
        if (args.length < min || args.length > max) {
            throw bad("a tensor rebuild with " + args.length + " arguments (" + min + (max > min ? " to " + max : "") + " expected)");
        }
        if (!(args[0] instanceof Storage storage)) {
            throw bad("a tensor rebuilt from " + describe(args[0]) + ", not a storage");
        }
        if (!(args[1] instanceof IntValue(long offset))) {
            throw bad("a tensor's storage offset is " + describe(args[1]) + ", not an int");
        }
        return new PendingTensor(storage, offset, args[2], args[3], dtype);
    }

    /** BINPERSID: {@code ('storage', <storage class>, key, location, numel)}. */
    private Storage persistent(Object pid) {
        if (!(pid instanceof PTuple(Object[] p)) || p.length != 5 || !(p[0] instanceof StrValue(String tag)) || !tag.equals("storage")) {
            throw new TorchException(Rule.BAD_STORAGE, file, entry + " at byte " + opStart
                    + ": a persistent id that is not ('storage', type, key, location, numel)");
        }
        if (!(p[1] instanceof Allowed type) || type.kind() != Kind.STORAGE_TYPE || !(p[2] instanceof StrValue(String key))
                || !(p[3] instanceof StrValue(String location)) || !(p[4] instanceof IntValue(long numel)) || numel < 0) {
            throw new TorchException(Rule.BAD_STORAGE, file, entry + " at byte " + opStart
                    + ": a storage reference with the wrong types (storage class, key, location, element count)");
        }
        Storage s = loaded.get(key);
        if (s == null) {
            s = storages.load(key, type, numel, location);
            loaded.put(key, s);
        }
        return s;
    }

    // ---- the result

    /**
     * A value usable as a dict key or set item: immutable, and not a tensor. Keys are small: at most
     * {@value #MAX_KEY_VALUES} values counted as often as they appear, so hashing and comparing
     * them stays cheap even when a pickle reuses one tuple many times inside another.
     */
    private TorchValue key(Object o, int depth) {
        return key(o, depth, new int[] {MAX_KEY_VALUES});
    }

    private TorchValue key(Object o, int depth, int[] budget) {
        if (--budget[0] < 0 || depth > MAX_DEPTH) {
            throw keyTooLarge();
        }
        if (o instanceof TorchValue v) {
            return v;
        }
        if (o instanceof Allowed a) {
            return new GlobalValue(a.module(), a.name());
        }
        if (o instanceof PTuple(Object[] items)) {
            List<TorchValue> keys = new ArrayList<>(items.length);
            for (Object i : items) {
                keys.add(key(i, depth + 1, budget));
            }
            return new TupleValue(keys);
        }
        if (o instanceof PSet s && s.frozen) {
            budget[0] -= s.items.size();
            if (budget[0] < 0) {
                throw keyTooLarge();
            }
            return new SetValue(s.items, true);
        }
        throw bad("a dict key or set item that is " + describe(o) + ", which Python cannot hash");
    }

    private TorchException keyTooLarge() {
        return new TorchException(Rule.TOO_LARGE, file, entry + " at byte " + opStart + ": a dict key or set item of more than "
                + MAX_KEY_VALUES + " values, or nested deeper than " + MAX_DEPTH + " levels");
    }

    private TorchValue finish(Object o, String path, int depth, IdentityHashMap<Object, TorchValue> done) {
        if (o instanceof TorchValue v) {
            return v;
        }
        TorchValue cached = done.get(o);
        if (cached != null) {
            return cached;
        }
        if (depth > MAX_DEPTH) {
            throw new TorchException(Rule.TOO_LARGE, file, entry + ": values nested deeper than " + MAX_DEPTH
                    + " levels, or a recursive structure" + (path.isEmpty() ? "" : ", at " + path));
        }
        TorchValue v = switch (o) {
            case PList l -> {
                List<TorchValue> items = new ArrayList<>(l.items.size());
                for (int i = 0; i < l.items.size(); i++) {
                    items.add(finish(l.items.get(i), child(path, Integer.toString(i)), depth + 1, done));
                }
                yield new ListValue(items);
            }
            case PTuple(Object[] t) -> {
                List<TorchValue> items = new ArrayList<>(t.length);
                for (int i = 0; i < t.length; i++) {
                    items.add(finish(t[i], child(path, Integer.toString(i)), depth + 1, done));
                }
                yield new TupleValue(items);
            }
            case PDict d -> {
                Map<TorchValue, TorchValue> entries = new LinkedHashMap<>();
                for (Map.Entry<TorchValue, Object> e : d.map.entrySet()) {
                    entries.put(e.getKey(), finish(e.getValue(), child(path, keyText(e.getKey())), depth + 1, done));
                }
                yield new DictValue(entries);
            }
            case PSet s -> new SetValue(s.items, s.frozen);
            case Allowed a -> new GlobalValue(a.module(), a.name());
            case PendingTensor t -> tensor(t, path);
            case Storage s -> throw new TorchException(Rule.BAD_TENSOR, file, path.isEmpty() ? null : path,
                    "a bare storage (" + s.key() + "), not a tensor; ugm reads tensors");
            default -> throw new IllegalStateException("unexpected " + o.getClass());
        };
        done.put(o, v);
        return v;
    }

    private static String child(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static String keyText(TorchValue k) {
        return switch (k) {
            case StrValue s -> s.value();
            case IntValue i -> Long.toString(i.value());
            default -> k.toString();
        };
    }

    /** Checks a rebuilt tensor against its storage: shape, contiguity, bounds; slices its bytes. */
    private TensorValue tensor(PendingTensor t, String path) {
        String name = path.isEmpty() ? "(the file's value)" : path;
        Storage s = t.storage();
        DType dtype = t.dtype() != null ? t.dtype() : s.dtype() != null ? s.dtype() : DType.U8;
        long[] shape = dims(t.size(), name, "size");
        long[] stride = dims(t.stride(), name, "stride");
        if (stride.length != shape.length) {
            throw new TorchException(Rule.BAD_TENSOR, file, name, "its stride " + Arrays.toString(stride)
                    + " does not match its shape " + Arrays.toString(shape));
        }
        long elements;
        long bytes;
        long start;
        try {
            elements = DType.elementCount(shape);
            bytes = dtype.byteSize(elements);
            start = Math.multiplyExact(t.offset(), (long) dtype.byteWidth());
        } catch (ArithmeticException e) {
            throw new TorchException(Rule.BAD_TENSOR, file, name, "shape " + Arrays.toString(shape) + " at offset "
                    + t.offset() + " overflows: " + e.getMessage());
        }
        if (t.offset() < 0) {
            throw new TorchException(Rule.BAD_TENSOR, file, name, "negative storage offset " + t.offset());
        }
        if (elements > 0) {
            long expected = 1;
            for (int d = shape.length - 1; d >= 0; d--) {
                if (shape[d] == 1) {
                    continue;
                }
                if (stride[d] != expected) {
                    throw new TorchException(Rule.NON_CONTIGUOUS, file, name, "a non-contiguous view (shape "
                            + Arrays.toString(shape) + ", stride " + Arrays.toString(stride)
                            + "), which ugm cannot map; save it with .contiguous() first");
                }
                expected *= shape[d]; // no overflow: the product of the shape fits
            }
        }
        long have = s.bytes().byteSize();
        if (elements > 0 && (start > have || bytes > have - start)) {
            throw new TorchException(Rule.STORAGE_TOO_SHORT, file, name, "needs bytes [" + start + ", "
                    + (start > Long.MAX_VALUE - bytes ? "overflow" : Long.toString(start + bytes)) + ") of storage "
                    + s.key() + ", which has " + have);
        }
        MemorySegment data = elements == 0 ? s.bytes().asSlice(0, 0) : s.bytes().asSlice(start, bytes);
        return new TensorValue(dtype, shape, s.key(), t.offset(), data);
    }

    private long[] dims(Object o, String name, String what) {
        if (!(o instanceof PTuple(Object[] items))) {
            throw new TorchException(Rule.BAD_TENSOR, file, name, "its " + what + " is " + describe(o) + ", not a tuple of ints");
        }
        if (items.length > MAX_RANK) {
            throw new TorchException(Rule.BAD_TENSOR, file, name, items.length + " dimensions, more than the " + MAX_RANK + " ugm reads");
        }
        long[] d = new long[items.length];
        for (int i = 0; i < d.length; i++) {
            if (!(items[i] instanceof IntValue(long v)) || v < 0) {
                throw new TorchException(Rule.BAD_TENSOR, file, name, "its " + what + " holds " + describe(items[i])
                        + ", not a non-negative int");
            }
            d[i] = v;
        }
        return d;
    }

    private static String describe(Object o) {
        return switch (o) {
            case TorchValue v -> v instanceof IntValue(long i) ? "the int " + i : "a " + v.typeName();
            case PList l -> "a list";
            case PDict d -> "a dict";
            case PSet s -> "a set";
            case PTuple t -> "a tuple";
            case Allowed a -> a.qualified();
            case PendingTensor t -> "a tensor";
            case Storage s -> "a storage";
            default -> o.getClass().getSimpleName();
        };
    }
}
