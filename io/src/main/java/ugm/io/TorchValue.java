package ugm.io;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ugm.core.DType;
import ugm.core.TensorInfo;

/**
 * A value read from a {@code torch.save} pickle: the data a state dict or an optimizer state is
 * made of (None, booleans, integers, floats, strings, bytes, tuples, lists, dicts, sets) and
 * tensors, whose bytes are slices of the file's mapping. Immutable; containers keep the pickle's
 * order. Nothing here was built by running code: see {@link TorchFile}.
 */
public sealed interface TorchValue {

    /** What the value is, for messages: "None", "bool", "int", "float", "str", "bytes", "tuple", "list", "dict", "set", "global", "tensor". */
    String typeName();

    /** Python's None. */
    record NoneValue() implements TorchValue {
        public static final NoneValue INSTANCE = new NoneValue();

        @Override
        public String typeName() {
            return "None";
        }
    }

    /** A Python bool. */
    record BoolValue(boolean value) implements TorchValue {
        @Override
        public String typeName() {
            return "bool";
        }
    }

    /** A Python int; ugm reads those that fit in 64 bits. */
    record IntValue(long value) implements TorchValue {
        @Override
        public String typeName() {
            return "int";
        }
    }

    /** A Python float. */
    record FloatValue(double value) implements TorchValue {
        @Override
        public String typeName() {
            return "float";
        }
    }

    /** A Python str. */
    record StrValue(String value) implements TorchValue {
        @Override
        public String typeName() {
            return "str";
        }
    }

    /** Python bytes; the array is copied in and out. */
    record BytesValue(byte[] value) implements TorchValue {
        public BytesValue {
            value = value.clone();
        }

        @Override
        public byte[] value() {
            return value.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof BytesValue b && Arrays.equals(value, b.value);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(value);
        }

        @Override
        public String typeName() {
            return "bytes";
        }
    }

    /** A tuple (also what {@code torch.Size} reads as). */
    record TupleValue(List<TorchValue> items) implements TorchValue {
        public TupleValue {
            items = List.copyOf(items);
        }

        @Override
        public String typeName() {
            return "tuple";
        }
    }

    /** A Python list, its items in order. */
    record ListValue(List<TorchValue> items) implements TorchValue {
        public ListValue {
            items = List.copyOf(items);
        }

        @Override
        public String typeName() {
            return "list";
        }
    }

    /** A dict or {@code collections.OrderedDict}, in insertion order (unmodifiable). */
    record DictValue(Map<TorchValue, TorchValue> entries) implements TorchValue {
        public DictValue {
            entries = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(entries));
        }

        /** The value under a string key, or null. */
        public TorchValue get(String key) {
            return entries.get(new StrValue(key));
        }

        /** The value under an integer key (optimizer states key parameters by int), or null. */
        public TorchValue get(long key) {
            return entries.get(new IntValue(key));
        }

        @Override
        public String typeName() {
            return "dict";
        }
    }

    /** A set or frozenset, in the pickle's order. */
    record SetValue(Set<TorchValue> items, boolean frozen) implements TorchValue {
        public SetValue {
            items = java.util.Collections.unmodifiableSet(new java.util.LinkedHashSet<>(items));
        }

        @Override
        public String typeName() {
            return "set";
        }
    }

    /**
     * A name from the allow-list carried as data, such as a dtype ({@code torch.float32}) or a
     * storage class; never anything that could be called.
     */
    record GlobalValue(String module, String name) implements TorchValue {
        @Override
        public String typeName() {
            return "global";
        }

        @Override
        public String toString() {
            return module + "." + name;
        }
    }

    /**
     * A contiguous, row-major tensor: its dtype, shape, the storage it views (the zip entry's key,
     * shared by tied tensors) and the element offset into it, and its bytes as a read-only slice of
     * the file's mapping, valid until the {@link TorchFile} is closed.
     */
    record TensorValue(DType dtype, long[] shape, String storage, long storageOffset, MemorySegment data) implements TorchValue {
        public TensorValue {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Name, dtype and shape, as a tensor source lists it. */
        public TensorInfo info(String name) {
            return new TensorInfo(name, dtype, shape);
        }

        /** Whether this tensor's bytes overlap {@code other}'s (two names for one weight, e.g. tied embeddings). */
        public boolean overlaps(TensorValue other) {
            if (!storage.equals(other.storage) || data.byteSize() == 0 || other.data.byteSize() == 0) {
                return false;
            }
            long a = data.address();
            long b = other.data.address();
            return a < b + other.data.byteSize() && b < a + data.byteSize();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof TensorValue t && dtype == t.dtype && Arrays.equals(shape, t.shape) && storage.equals(t.storage)
                    && storageOffset == t.storageOffset && data.equals(t.data);
        }

        @Override
        public int hashCode() {
            return 31 * storage.hashCode() + Long.hashCode(storageOffset);
        }

        @Override
        public String toString() {
            return "tensor " + dtype + Arrays.toString(shape) + " in storage " + storage + " at " + storageOffset;
        }

        @Override
        public String typeName() {
            return "tensor";
        }
    }
}
