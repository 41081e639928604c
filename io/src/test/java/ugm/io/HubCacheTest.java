package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Hugging Face cache as huggingface_hub lays it out: the root from the environment, ids, refs and snapshots. */
class HubCacheTest {
    @TempDir
    Path tmp;

    private static final Path HOME = Path.of("/home/someone");
    private static final String MAIN = "0123456789abcdef0123456789abcdef01234567";
    private static final String V2 = "fedcba9876543210fedcba9876543210fedcba98";

    @Test
    void theRootIsHfHubCacheElseHfHomeHubElseXdgElseTheHomeCache() {
        assertEquals(Path.of("/a/hub-cache"), HubCache.root(Map.of("HF_HUB_CACHE", "/a/hub-cache", "HF_HOME", "/b",
                "XDG_CACHE_HOME", "/c"), HOME));
        assertEquals(Path.of("/b/hub"), HubCache.root(Map.of("HF_HOME", "/b", "XDG_CACHE_HOME", "/c"), HOME));
        assertEquals(Path.of("/c/huggingface/hub"), HubCache.root(Map.of("XDG_CACHE_HOME", "/c"), HOME));
        assertEquals(Path.of("/home/someone/.cache/huggingface/hub"), HubCache.root(Map.of(), HOME));
        // Empty is unset, as in huggingface_hub; a leading ~ is the home folder.
        assertEquals(Path.of("/b/hub"), HubCache.root(Map.of("HF_HUB_CACHE", "", "HF_HOME", "/b"), HOME));
        assertEquals(Path.of("/home/someone/hf/hub"), HubCache.root(Map.of("HF_HOME", "~/hf"), HOME));
    }

    @Test
    void repoIdsFollowTheHubsRules() {
        for (String ok : new String[] {"gpt2", "mistralai/Mistral-7B-v0.1", "org_1/name.v2", "a/b"}) {
            assertTrue(HubCache.isRepoId(ok), ok);
        }
        for (String bad : new String[] {"", "a/b/c", "/abs/path", "./model", "../up", "org/", "/name", "a--b", "a..b", "-x", "x-",
                ".x", "x.", "my model", "a:b", "ö/x", "a".repeat(97)}) {
            assertFalse(HubCache.isRepoId(bad), bad);
        }
        assertTrue(HubCache.isRevision("main") && HubCache.isRevision("refs/pr/1") && HubCache.isRevision(MAIN));
        assertFalse(HubCache.isRevision("../../etc") || HubCache.isRevision("/x") || HubCache.isRevision("") || HubCache.isRevision("a b"));
    }

    /** {@code models--org--name} with refs main and v2, their snapshots, and one more snapshot no ref names. */
    private HubCache cache() throws IOException {
        Path repo = tmp.resolve("models--org--name");
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), MAIN); // huggingface_hub writes the sha without a newline
        Files.writeString(repo.resolve("refs/v2"), V2 + "\n");
        Files.createDirectories(repo.resolve("refs/refs/pr"));
        Files.writeString(repo.resolve("refs/refs/pr/1"), V2);
        Files.writeString(repo.resolve("refs/broken"), "not a sha");
        for (String sha : new String[] {MAIN, V2, "1111111111111111111111111111111111111111"}) {
            Files.createDirectories(repo.resolve("snapshots").resolve(sha));
        }
        Files.createDirectories(tmp.resolve("models--solo/refs"));
        Files.writeString(tmp.resolve("models--solo/refs/main"), MAIN);
        Files.createDirectories(tmp.resolve("models--solo/snapshots").resolve(MAIN));
        return new HubCache(tmp);
    }

    @Test
    void aRevisionIsABranchWhoseRefHoldsTheCommitOrTheCommitItself() throws IOException {
        HubCache c = cache();
        Path snapshots = tmp.resolve("models--org--name/snapshots");
        assertEquals(snapshots.resolve(MAIN), c.snapshot("org/name", null));
        assertEquals(snapshots.resolve(MAIN), c.snapshot("org/name", "main"));
        assertEquals(snapshots.resolve(V2), c.snapshot("org/name", "v2"));
        assertEquals(snapshots.resolve(V2), c.snapshot("org/name", "refs/pr/1"));
        assertEquals(snapshots.resolve("1111111111111111111111111111111111111111"),
                c.snapshot("org/name", "1111111111111111111111111111111111111111"));
        assertEquals(tmp.resolve("models--solo/snapshots").resolve(MAIN), c.snapshot("solo", null));
    }

    @Test
    void whatTheCacheDoesNotHoldIsNull() throws IOException {
        HubCache c = cache();
        assertNull(c.snapshot("org/other", null));
        assertNull(c.snapshot("org/name", "v3"), "no such ref");
        assertNull(c.snapshot("org/name", "broken"), "a ref without a sha");
        assertNull(c.snapshot("org/name", "2222222222222222222222222222222222222222"), "no such snapshot");
        assertNull(c.snapshot("org/name", "../../models--solo/refs/main"), "a revision that leaves refs/");
        assertNull(c.snapshot("a/b/c", null));
        assertNull(new HubCache(tmp.resolve("absent")).snapshot("org/name", null));
    }

    @Test
    void theDownloadCommandNamesTheRevisionWhenOneWasGiven() {
        assertEquals("huggingface-cli download org/name", HubCache.downloadCommand("org/name", null));
        assertEquals("huggingface-cli download org/name --revision v2", HubCache.downloadCommand("org/name", "v2"));
    }
}
