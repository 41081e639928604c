package ugm.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ugm.core.DType;
import ugm.core.TensorInfo;
import ugm.io.SafetensorsException.Rule;

/** Checkpoint.open on PyTorch checkpoints: which file a folder means, sharded indexes, file names. */
class TorchCheckpointTest {

    @TempDir
    Path dir;

    @Test
    void aFolderWithPytorchModelBin() {
        try (Checkpoint c = Checkpoint.open(TorchZips.fixture("tiny"))) {
            assertEquals(Checkpoint.PYTORCH, c.format());
            assertEquals(List.of(TorchZips.fixture("tiny/pytorch_model.bin")), c.files());
            assertEquals(7, c.tensors().size());
            assertEquals(-1, c.data("embed.weight").mismatch(c.data("lm_head.weight")));
            assertEquals(TorchZips.fixture("tiny/pytorch_model.bin").toString(), c.locate("lm_head.weight"));
            assertTrue(c.fileOf("proj.bias") instanceof TorchStateDict);
            c.requireUnchanged("test");
        }
    }

    @Test
    void aShardedPyTorchCheckpointByFolderOrIndex() {
        for (Path p : List.of(TorchZips.fixture("sharded"), TorchZips.fixture("sharded/pytorch_model.bin.index.json"))) {
            try (Checkpoint c = Checkpoint.open(p)) {
                assertEquals(2, c.files().size());
                assertEquals(List.of("embed.weight", "proj.weight", "proj.bias", "norm.weight", "norm.bias"),
                        c.tensors().stream().map(TensorInfo::name).toList());
                assertTrue(c.locate("norm.bias").endsWith("pytorch_model-00002-of-00002.bin"));
                assertEquals(new TensorInfo("embed.weight", DType.F32, new long[] {4, 3}), c.info("embed.weight"));
            }
        }
    }

    @Test
    void torchFilesByNameOrByTheirFirstBytes() throws IOException {
        Path odd = Files.copy(TorchZips.fixture("torch2_layout.pt"), dir.resolve("weights.data"));
        try (Checkpoint a = Checkpoint.open(TorchZips.fixture("torch2_v3.pt")); Checkpoint b = Checkpoint.open(odd)) {
            assertEquals(Checkpoint.PYTORCH, a.format());
            assertEquals(DType.U16, a.info("u16").dtype());
            assertEquals(Checkpoint.PYTORCH, b.format());
        }
        // A .bin that is not a torch.save zip is refused as one, not parsed as safetensors.
        Path legacy = Files.copy(TorchZips.fixture("bad/legacy.pt"), dir.resolve("pytorch_model.bin"));
        TorchException e = assertThrows(TorchException.class, () -> Checkpoint.open(dir).close());
        assertTrue(e.getMessage().startsWith(legacy.toString()), e.getMessage());
    }

    @Test
    void anIndexThatDisagreesWithItsTorchShards() throws IOException {
        Path f = dir.resolve("ck");
        Files.createDirectories(f);
        for (String s : new String[] {"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"}) {
            Files.copy(TorchZips.fixture("sharded/" + s), f.resolve(s));
        }
        Files.writeString(f.resolve(Checkpoint.TORCH_INDEX_FILE), """
                {"weight_map": {"embed.weight": "pytorch_model-00001-of-00002.bin", "proj.weight": "pytorch_model-00001-of-00002.bin",
                 "proj.bias": "pytorch_model-00001-of-00002.bin", "norm.weight": "pytorch_model-00002-of-00002.bin",
                 "norm.bias": "pytorch_model-00002-of-00002.bin"}}""");
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> Checkpoint.open(f).close());
        assertEquals("proj.bias", e.tensor(), e.getMessage());
        Files.delete(f.resolve(Checkpoint.TORCH_INDEX_FILE));
        SafetensorsException none = assertThrows(SafetensorsException.class, () -> Checkpoint.open(f).close());
        assertEquals(Rule.NO_CHECKPOINT, none.rule());
        assertTrue(none.getMessage().contains(Checkpoint.TORCH_FILE) && none.getMessage().contains(Checkpoint.SINGLE_FILE), none.getMessage());
    }

    @Test
    void safetensorsWinsOverPytorchModelBin() throws IOException {
        Path both = Files.createDirectories(dir.resolve("both"));
        Files.copy(TorchZips.fixture("tiny/pytorch_model.bin"), both.resolve(Checkpoint.TORCH_FILE));
        CheckpointTest.writeFile(both.resolve(Checkpoint.SINGLE_FILE), List.of(CheckpointTest.t("only", 2)));
        try (Checkpoint c = Checkpoint.open(both)) {
            assertEquals(Checkpoint.SAFETENSORS, c.format());
            assertEquals(List.of("only"), c.tensors().stream().map(TensorInfo::name).toList());
            assertEquals(Map.of(), c.metadata());
        }
    }
}
