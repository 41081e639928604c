package ugm.io;

import java.util.Arrays;
import ugm.core.DType;
import ugm.core.TensorInfo;

/**
 * One tensor of a safetensors header: its name, dtype, shape and byte range {@code [begin, end)}
 * relative to the start of the data region. Immutable: the shape is copied in and out.
 */
public record TensorEntry(String name, DType dtype, long[] shape, long begin, long end) {

    public TensorEntry {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** The bytes of its data. */
    public long byteSize() {
        return end - begin;
    }

    /** Its name, dtype and shape. */
    public TensorInfo info() {
        return new TensorInfo(name, dtype, shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorEntry e && name.equals(e.name) && dtype == e.dtype
                && Arrays.equals(shape, e.shape) && begin == e.begin && end == e.end;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(new Object[] {name, dtype, Arrays.hashCode(shape), begin, end});
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " [" + begin + ", " + end + ")";
    }
}
