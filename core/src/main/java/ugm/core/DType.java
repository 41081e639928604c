package ugm.core;

/**
 * The element types of the safetensors format, in the reference's alignment order (ascending;
 * docs/safetensors.md, "Dtypes").
 * The constant names are the format's dtype strings.
 *
 * <p>Constants: safe to use from any thread.
 */
public enum DType {
    BOOL(8), F4(4), F6_E2M3(6), F6_E3M2(6), U8(8), I8(8), F8_E5M2(8), F8_E4M3(8), F8_E8M0(8),
    F8_E4M3FNUZ(8), F8_E5M2FNUZ(8), I16(16), U16(16), F16(16), BF16(16), I32(32), U32(32), F32(32),
    C64(64), F64(64), I64(64), U64(64);

    private static final DType[] VALUES = values();

    private final int bits;

    DType(int bits) {
        this.bits = bits;
    }

    /** Bits per element. */
    public int bits() {
        return bits;
    }

    /** Bytes per element for whole-byte types; 0 for the sub-byte F4/F6 types. */
    public int byteWidth() {
        return bits % 8 == 0 ? bits / 8 : 0;
    }

    /**
     * A floating type the merges write, by any of the names users give it: ugm's short names
     * ({@code bf16}, {@code f16}, {@code f32}, {@code f64}), mergekit's and PyTorch's
     * ({@code bfloat16}, {@code float16}, {@code half}, {@code float32}, {@code float},
     * {@code float64}, {@code double}) and {@code fp16}/{@code fp32}/{@code fp64}, in any case;
     * null for anything else.
     */
    public static DType floating(String name) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "bf16", "bfloat16" -> BF16;
            case "f16", "fp16", "float16", "half" -> F16;
            case "f32", "fp32", "float32", "float" -> F32;
            case "f64", "fp64", "float64", "double" -> F64;
            default -> null;
        };
    }

    /** The name config.json's {@code torch_dtype} and mergekit use for a floating type: bfloat16, float16, float32, float64. */
    public String torchName() {
        return switch (this) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            case F32 -> "float32";
            case F64 -> "float64";
            default -> throw new IllegalArgumentException(name() + " has no floating torch name");
        };
    }

    /** The types the merge kernels decode and encode: BF16, F16, F32 and F64. */
    public boolean isMergeable() {
        return this == BF16 || this == F16 || this == F32 || this == F64;
    }

    /**
     * Bytes taken by {@code elements} elements.
     *
     * @throws ArithmeticException when the size overflows a long or is not a whole number of bytes
     */
    public long byteSize(long elements) {
        if (bits % 8 == 0) {
            return Math.multiplyExact(elements, (long) (bits / 8));
        }
        // F4 and F6: elements * bits / 8 without overflowing before the division.
        long whole = Math.multiplyExact(elements / 8, (long) bits);
        long restBits = (elements % 8) * bits;
        if (restBits % 8 != 0) {
            throw new ArithmeticException(elements + " elements of " + name() + " are not a whole number of bytes");
        }
        return Math.addExact(whole, restBits / 8);
    }

    /** The dtype for an exact (upper-case) format string, or null when there is none. */
    public static DType fromName(String name) {
        for (DType d : VALUES) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }

    /** Number of elements of a shape; 1 for the scalar shape {@code []}. Overflow-checked. */
    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new ArithmeticException("negative dimension " + d);
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }
}
