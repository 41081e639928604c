package ugm.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Byte sizes as users write them: {@code 5GB} (10^9, as model hubs count), {@code 2GiB}, {@code 500MB}, {@code 1234}. */
final class Sizes implements ITypeConverter<Long> {
    /** Compiled on first parse only: printing a size (every command does) needs no regex. */
    private static final class Syntax {
        static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]i?b?|b)?", Pattern.CASE_INSENSITIVE);
    }

    @Override
    public Long convert(String value) {
        return parse(value);
    }

    static long parse(String value) {
        Matcher m = Syntax.SIZE.matcher(value.trim());
        if (!m.matches()) {
            throw new TypeConversionException("'" + value + "' is not a size (examples: 5GB, 500MB, 2GiB, 1000000)");
        }
        String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
        boolean binary = unit.contains("i");
        long base = binary ? 1024 : 1000;
        int power = switch (unit.charAt(0)) {
            case 'k' -> 1;
            case 'm' -> 2;
            case 'g' -> 3;
            case 't' -> 4;
            default -> 0;
        };
        double bytes = Double.parseDouble(m.group(1)) * Math.pow(base, power);
        if (bytes < 1 || bytes > Long.MAX_VALUE / 2) {
            throw new TypeConversionException("size '" + value + "' is out of range");
        }
        return (long) bytes;
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
