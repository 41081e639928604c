package ugm.cli;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * Byte sizes as users write them, any case, a space allowed before the unit: {@code 5GB} or
 * {@code 5G} (10^9, as model hubs count), {@code 2GiB} or {@code 2Gi} (2^31), {@code 500MB},
 * {@code 1.5GB}, and mergekit's {@code K}/{@code M}/{@code B} for thousand, million and billion:
 * {@code 5B} is 5·10^9 bytes, never five bytes. A bare number is bytes and must be whole; a size
 * with a unit is rounded down to whole bytes.
 */
final class Sizes implements ITypeConverter<Long> {
    /** Compiled on first parse only: printing a size (every command does) needs no regex. */
    private static final class Syntax {
        static final Pattern SIZE = Pattern.compile("(\\d+)(\\.\\d+)?\\s*(?:([kmgt])(i)?b?|(b))?", Pattern.CASE_INSENSITIVE);
        static final BigDecimal LIMIT = BigDecimal.valueOf(Long.MAX_VALUE / 2);
    }

    @Override
    public Long convert(String value) {
        return parse(value);
    }

    static long parse(String value) {
        BigDecimal bytes = bytes(value);
        if (bytes.compareTo(BigDecimal.ONE) < 0 || bytes.compareTo(Syntax.LIMIT) > 0) {
            throw new TypeConversionException("size '" + value + "' is out of range");
        }
        return bytes.longValue();
    }

    /** The size {@code value} stands for, exactly (a fraction of a byte is kept: {@link #parse} rounds down). */
    private static BigDecimal bytes(String value) {
        Matcher m = Syntax.SIZE.matcher(value.strip());
        if (!m.matches() || (m.group(2) != null && m.group(3) == null && m.group(5) == null)) { // a fraction of a byte
            throw new TypeConversionException("'" + value + "' is not a size (examples: 5GB, 5B as mergekit writes it, 500MB, 2GiB, 1000000)");
        }
        int power = m.group(5) != null ? 3 : m.group(3) == null ? 0 : switch (m.group(3).toLowerCase(Locale.ROOT)) {
            case "k" -> 1;
            case "m" -> 2;
            case "g" -> 3;
            default -> 4;
        };
        return new BigDecimal(m.group(1) + (m.group(2) == null ? "" : m.group(2)))
                .multiply(BigDecimal.valueOf(m.group(4) != null ? 1024 : 1000).pow(power));
    }

    /**
     * mergekit's {@code --out-shard-size}: a size as {@link #parse} reads it, or 0 for no limit
     * (one file), as mergekit's writer takes 0.
     */
    static final class ShardLimit implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return bytes(value).signum() == 0 ? Long.MAX_VALUE : parse(value);
        }
    }

    static String format(long bytes) {
        if (bytes < 1000) {
            return bytes + " B";
        }
        String[] units = {"kB", "MB", "GB", "TB"};
        double v = bytes;
        int u = -1;
        while (v >= 1000 && u < units.length - 1) {
            v /= 1000;
            u++;
        }
        return Plain.format("%.2f %s", v, units[u]);
    }
}
