package ugm.core;

import java.util.Arrays;

/** A tensor's name, element type and shape. Immutable: the shape is copied in and out. */
public record TensorInfo(String name, DType dtype, long[] shape) {

    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Elements: the product of the shape, 1 for a scalar. */
    public long elementCount() {
        return DType.elementCount(shape);
    }

    /** Bytes of data: element count times the dtype's size. */
    public long byteSize() {
        return dtype.byteSize(elementCount());
    }

    /** Whether {@code other} has this shape. */
    public boolean sameShape(TensorInfo other) {
        return Arrays.equals(shape, other.shape);
    }

    /** The shape as {@code [2, 3]}. */
    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * name.hashCode() + dtype.hashCode()) + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + shapeString();
    }
}
