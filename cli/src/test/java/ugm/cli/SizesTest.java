package ugm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

/** The sizes --shard-size, --out-shard-size, --size take: ugm's units and mergekit's K/M/B. */
class SizesTest {

    @Test
    void unitsMeanWhatTheREADMESays() {
        Object[][] table = {
                // mergekit's K/M/B: thousand, million, billion (any case); B alone is never bytes
                {"5B", 5_000_000_000L}, {"5b", 5_000_000_000L}, {"1B", 1_000_000_000L}, {"500M", 500_000_000L}, {"500m", 500_000_000L},
                {"1K", 1_000L}, {"3k", 3_000L},
                // decimals, which mergekit refuses
                {"1.5B", 1_500_000_000L}, {"0.3KB", 300L}, {"2.25M", 2_250_000L},
                // ugm's decimal and binary units, with or without B, a space allowed
                {"5GB", 5_000_000_000L}, {"5G", 5_000_000_000L}, {"5 GB", 5_000_000_000L}, {"5gb", 5_000_000_000L},
                {"500MB", 500_000_000L}, {"1kB", 1_000L}, {"2TB", 2_000_000_000_000L}, {"2T", 2_000_000_000_000L},
                {"1KiB", 1024L}, {"1Ki", 1024L}, {"1.5KiB", 1536L}, {"0.5MiB", 524_288L}, {"2GiB", 2_147_483_648L},
                {"1TiB", 1_099_511_627_776L},
                // a bare number is bytes; a unit's fraction of a byte is rounded down
                {"1000000", 1_000_000L}, {"1", 1L}, {" 42 ", 42L}, {"0.0015K", 1L},
        };
        for (Object[] row : table) {
            assertEquals((long) row[1], Sizes.parse((String) row[0]), (String) row[0]);
        }
    }

    @Test
    void garbageAndSizesOutOfRangeAreRefusedInOneLine() {
        for (String bad : new String[] {"", "x", "5x", "-5", "1.5", "5e9", "5BB", "5 B B", "GB", ".5G", "5.G", "5KiBB", "5 i"}) {
            TypeConversionException e = assertThrows(TypeConversionException.class, () -> Sizes.parse(bad), bad);
            assertEquals("'" + bad + "' is not a size (examples: 5GB, 5B as mergekit writes it, 500MB, 2GiB, 1000000)", e.getMessage());
        }
        for (String tiny : new String[] {"0", "0B", "0.0001K", "99999999TB", "9223372036854775807"}) {
            TypeConversionException e = assertThrows(TypeConversionException.class, () -> Sizes.parse(tiny), tiny);
            assertEquals("size '" + tiny + "' is out of range", e.getMessage());
        }
        assertEquals(Long.MAX_VALUE / 2, Sizes.parse(Long.toString(Long.MAX_VALUE / 2)));
    }

    @Test
    void outShardSizeZeroIsNoLimitAsInMergekit() {
        Sizes.ShardLimit limit = new Sizes.ShardLimit();
        for (String zero : new String[] {"0", "0B", "0.0K", "0 GB"}) {
            assertEquals(Long.MAX_VALUE, limit.convert(zero), zero);
        }
        assertEquals(1_000_000_000L, limit.convert("1B"));
        assertEquals(5_000_000_000L, limit.convert("5GB"));
        assertTrue(assertThrows(TypeConversionException.class, () -> limit.convert("0.0001K")).getMessage().contains("out of range"));
        assertThrows(TypeConversionException.class, () -> limit.convert("-1"));
    }
}
