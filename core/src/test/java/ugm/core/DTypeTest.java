package ugm.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class DTypeTest {
    @Test
    void byteSizesFollowTheBitSizes() {
        assertEquals(22, DType.values().length);
        assertEquals(6, DType.BF16.byteSize(3));
        assertEquals(0, DType.F64.byteSize(0));
        assertEquals(3, DType.F4.byteSize(6));
        assertEquals(6, DType.F6_E2M3.byteSize(8));
        assertEquals(9, DType.F6_E3M2.byteSize(12));
        assertThrows(ArithmeticException.class, () -> DType.F4.byteSize(3));
        assertThrows(ArithmeticException.class, () -> DType.F6_E2M3.byteSize(5));
    }

    @Test
    void sizesNearTheLimitOfALongAreExactNotOverflowing() {
        long n = Long.MAX_VALUE / 2;
        assertEquals(n * 2, DType.BF16.byteSize(n)); // elements * 16 bits would overflow before the division
        assertEquals(Long.MAX_VALUE, DType.U8.byteSize(Long.MAX_VALUE));
        long f4 = (Long.MAX_VALUE / 8) * 8;
        assertEquals(f4 / 2, DType.F4.byteSize(f4));
        assertThrows(ArithmeticException.class, () -> DType.F32.byteSize(Long.MAX_VALUE / 2));
        assertThrows(ArithmeticException.class, () -> DType.elementCount(new long[] {1L << 40, 1L << 40}));
        assertThrows(ArithmeticException.class, () -> DType.elementCount(new long[] {-1}));
        assertEquals(1, DType.elementCount(new long[0]));
    }

    @Test
    void namesAreTheFormatsExactStrings() {
        assertEquals(DType.F8_E4M3FNUZ, DType.fromName("F8_E4M3FNUZ"));
        assertNull(DType.fromName("bf16"));
        assertNull(DType.fromName("FLOAT"));
    }
}
