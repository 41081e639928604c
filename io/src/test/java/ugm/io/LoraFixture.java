package ugm.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import ugm.core.DType;
import ugm.core.TensorInfo;

/**
 * Small base checkpoints and PEFT-layout LoRA adapters written for tests, with the values kept as
 * doubles (exactly the stored values) for an independent computation of what applying the
 * adapter gives. The cli tests use it too, through this module's test jar.
 */
public final class LoraFixture {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A tensor: dtype, shape, and its values as stored (already rounded to the dtype). */
    public record Tensor(DType dtype, long[] shape, double[] values) {
        public int rows() {
            return (int) shape[0];
        }

        public int cols() {
            return (int) shape[1];
        }

        public double at(int i, int j) {
            return values[i * cols() + j];
        }
    }

    private final SplittableRandom random;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    public LoraFixture(long seed) {
        this.random = new SplittableRandom(seed);
    }

    /** Adds a tensor of random values in [-1, 1), rounded to {@code dtype} (I64: whole numbers in [-100, 100)). */
    public Tensor random(String name, DType dtype, long... shape) {
        int n = (int) DType.elementCount(shape);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = round(dtype, random.nextDouble(-1, 1));
        }
        Tensor t = new Tensor(dtype, shape, v);
        tensors.put(name, t);
        return t;
    }

    public Tensor get(String name) {
        return tensors.get(name);
    }

    /** Writes every tensor added so far into the safetensors file {@code file} and forgets them. */
    public Path write(Path file) {
        try {
            Files.createDirectories(file.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<TensorInfo> infos = new ArrayList<>();
        tensors.forEach((n, t) -> infos.add(new TensorInfo(n, t.dtype(), t.shape())));
        try (SafetensorsWriter w = SafetensorsWriter.create(file, infos, Map.of("format", "pt"))) {
            for (TensorInfo info : infos) {
                Tensor t = tensors.get(info.name());
                MemorySegment s = w.target(info);
                for (int i = 0; i < t.values().length; i++) {
                    set(t.dtype(), s, i, t.values()[i]);
                }
            }
            w.commit();
        }
        tensors.clear();
        return file;
    }

    /** Writes {@code adapter_config.json} into {@code folder} with the given JSON fields (e.g. {@code "r": 4}). */
    public static Path config(Path folder, String fields) {
        try {
            Files.createDirectories(folder);
            Files.writeString(folder.resolve("adapter_config.json"),
                    "{\"peft_type\": \"LORA\", \"target_modules\": [\"q_proj\"], " + fields + "}");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return folder;
    }

    /** x rounded to nearest even in {@code dtype} (BF16, F16 through float, F32, F64); I64: ⌊100·x⌋. */
    public static double round(DType dtype, double x) {
        return switch (dtype) {
            case F64 -> x;
            case I64 -> Math.floor(x * 100);
            case F32 -> (float) x;
            case F16 -> Float.float16ToFloat(Float.floatToFloat16((float) x));
            case BF16 -> {
                int bits = Float.floatToRawIntBits((float) x);
                yield Float.intBitsToFloat(((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16) << 16);
            }
            default -> throw new IllegalArgumentException(dtype.toString());
        };
    }

    /** Half a unit in the last place of {@code dtype} at x: the largest error of one rounding to nearest. */
    public static double halfUlp(DType dtype, double x) {
        return switch (dtype) {
            case F64 -> Math.ulp(x) / 2;
            case F32 -> Math.ulp((float) x) / 2.0;
            case F16 -> Math.ulp((float) x) * 8192 / 2.0;
            case BF16 -> Math.ulp((float) x) * 65536 / 2.0;
            default -> throw new IllegalArgumentException(dtype.toString());
        };
    }

    /** Element i of a {@code dtype} tensor's bytes, read independently of the code under test. */
    public static double get(DType dtype, MemorySegment s, long i) {
        return switch (dtype) {
            case F64 -> s.get(F64, 8 * i);
            case I64 -> s.get(ValueLayout.JAVA_LONG_UNALIGNED, 8 * i);
            case F32 -> s.get(F32, 4 * i);
            case F16 -> Float.float16ToFloat(s.get(I16, 2 * i));
            case BF16 -> Float.intBitsToFloat((s.get(I16, 2 * i) & 0xFFFF) << 16);
            default -> throw new IllegalArgumentException(dtype.toString());
        };
    }

    private static void set(DType dtype, MemorySegment s, long i, double v) {
        switch (dtype) {
            case F64 -> s.set(F64, 8 * i, v);
            case I64 -> s.set(ValueLayout.JAVA_LONG_UNALIGNED, 8 * i, (long) v);
            case F32 -> s.set(F32, 4 * i, (float) v);
            case F16 -> s.set(I16, 2 * i, Float.floatToFloat16((float) v));
            case BF16 -> s.set(I16, 2 * i, (short) (Float.floatToRawIntBits((float) v) >>> 16));
            default -> throw new IllegalArgumentException(dtype.toString());
        }
    }

    /**
     * W + s·B·A in double, independently: {@code W[i][j] + s Σ_k B[i][k] A[k][j]}, or with
     * {@code transposed} (fan_in_fan_out, embeddings) {@code W[i][j] + s Σ_k B[j][k] A[k][i]}.
     */
    public static double[] expected(Tensor w, Tensor a, Tensor b, double s, boolean transposed) {
        double[] out = new double[w.values().length];
        int r = a.rows();
        for (int i = 0; i < w.rows(); i++) {
            for (int j = 0; j < w.cols(); j++) {
                double sum = 0;
                for (int k = 0; k < r; k++) {
                    sum += transposed ? b.at(j, k) * a.at(k, i) : b.at(i, k) * a.at(k, j);
                }
                out[i * w.cols() + j] = w.at(i, j) + s * sum;
            }
        }
        return out;
    }

    /**
     * Asserts that every element of {@code data} (a {@code dtype} tensor) is {@code expected}
     * rounded to the dtype: within half a unit in the last place, plus float's half unit where
     * the code rounds through float (BF16, F16).
     */
    public static void assertRounded(String what, DType dtype, double[] expected, MemorySegment data) {
        assertRounded(what, dtype, dtype, expected, data);
    }

    /** As {@link #assertRounded(String, DType, double[], MemorySegment)}, for values rounded to {@code dtype} and stored as {@code stored}. */
    public static void assertRounded(String what, DType dtype, DType stored, double[] expected, MemorySegment data) {
        for (int i = 0; i < expected.length; i++) {
            double got = get(stored, data, i);
            double e = Math.abs(expected[i]) > Math.abs(got) ? expected[i] : got;
            boolean viaFloat = dtype == DType.BF16 || dtype == DType.F16;
            double tolerance = halfUlp(dtype, e) + (viaFloat ? halfUlp(DType.F32, e) : 0) + 1e-13;
            if (!(Math.abs(got - expected[i]) <= tolerance)) {
                throw new AssertionError(what + " element " + i + ": " + got + " but W + s·B·A = " + expected[i]
                        + " (tolerance " + tolerance + ")");
            }
        }
    }
}
