package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import ugm.core.UgmException;

/** The one line an input/output failure becomes. */
class MessagesTest {
    private static final Path FILE = Path.of("m", "model-00001-of-00002.safetensors");

    @Test
    void aRefusedMappingNamesTheLimitsToLookAt() {
        // What FileChannel.map throws when mmap fails twice (ENOMEM: address space or vm.max_map_count)
        IOException e = new IOException("Map failed", new OutOfMemoryError("Map failed"));
        UgmException u = Messages.io(FILE, "cannot read", e);
        assertEquals(UgmException.Kind.IO, u.kind());
        assertEquals(FILE + ": cannot read: cannot map the file: out of address space or of mappings"
                + " (ulimit -v; vm.max_map_count, one mapping per input file)", u.getMessage());
    }

    @Test
    void otherFailuresKeepTheirOwnWords() {
        assertEquals(FILE + ": cannot read: Input/output error",
                Messages.io(FILE, "cannot read", new IOException("Input/output error")).getMessage());
        assertEquals(FILE + ": cannot read: no such file or folder",
                Messages.io(FILE, "cannot read", new NoSuchFileException(FILE.toString())).getMessage());
        assertEquals(FILE + ": cannot read: IOException", Messages.io(FILE, "cannot read", new IOException()).getMessage());
    }
}
