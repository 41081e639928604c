package ugm.core.kernel;

import java.util.SplittableRandom;

/** Float bit patterns that stress conversions: NaNs with payloads, infinities, subnormals, rounding ties. */
final class FloatPatterns {
    private FloatPatterns() {
    }

    static float interesting(SplittableRandom rnd) {
        int sign = rnd.nextBoolean() ? 0x8000_0000 : 0;
        int bits = switch (rnd.nextInt(12)) {
            case 0 -> rnd.nextInt();                                            // anything
            case 1 -> 0x7F80_0000 | (1 + rnd.nextInt(0x7F_FFFF));              // NaN, any payload
            case 2 -> 0x7F80_0000 | (rnd.nextInt(0x1_0000));                   // NaN (or inf) with payload only in the low half
            case 3 -> rnd.nextBoolean() ? 0x7F80_0000 : 0;                      // infinity or zero
            case 4 -> rnd.nextInt(0x80_0000);                                   // subnormal
            case 5 -> (rnd.nextInt() & 0xFFFF_0000) | 0x8000;                   // BF16 tie
            case 6 -> (rnd.nextInt() & 0xFFFF_E000) | 0x1000;                   // F16 tie (13 dropped bits)
            case 7 -> 0x7F7F_0000 | rnd.nextInt(0x1_0000);                      // near the float maximum
            case 8 -> Float.floatToRawIntBits(65504f + rnd.nextFloat() * 40f);  // near the F16 maximum
            case 9 -> Float.floatToRawIntBits((float) Math.scalb(rnd.nextDouble(), -14 - rnd.nextInt(12))); // F16 subnormals
            case 10 -> (rnd.nextInt() & 0xFFFF_0000) | (rnd.nextBoolean() ? 0x7FFF : 0x8001); // just off a BF16 tie
            default -> Float.floatToRawIntBits((float) rnd.nextGaussian());
        };
        return Float.intBitsToFloat(bits | sign);
    }
}
