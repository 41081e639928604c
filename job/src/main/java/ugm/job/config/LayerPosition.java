package ugm.job.config;

import java.util.Collection;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a tensor sits in the stack of layers, as mergekit's layer gradients see it: {@code t} runs
 * from 0 at the first layer to 1 at the last ({@code t = i / (N − 1)}, 1 when there is one layer).
 * Every tensor outside the layers (embeddings, final norm, head) takes t = 0, the first value of a
 * gradient, as in mergekit since 0.1.2 (its planner reads the weights before and after the layers
 * at t = 0; 0.1.1 and older read those after the layers at t = 1).
 *
 * <p>Immutable.
 */
public final class LayerPosition {
    /** {@code model.layers.7.}, {@code transformer.h.7.}, {@code encoder.layer.7.}, {@code blocks.7.}. */
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:layers|layer|h|blocks|block)\\.(\\d+)(?:\\.|$)");

    private final int layers;

    private LayerPosition(int layers) {
        this.layers = layers;
    }

    /** The layer count is one more than the largest layer index among {@code tensorNames}. */
    public static LayerPosition of(Collection<String> tensorNames) {
        int max = -1;
        for (String n : tensorNames) {
            OptionalInt i = layerIndex(n);
            if (i.isPresent()) {
                max = Math.max(max, i.getAsInt());
            }
        }
        return new LayerPosition(max + 1);
    }

    /** The number of layers. */
    public int layers() {
        return layers;
    }

    /** The layer the tensor belongs to ({@code model.layers.7.mlp.up_proj.weight}: 7), or empty outside the layers. */
    public static OptionalInt layerIndex(String tensor) {
        Matcher m = LAYER.matcher(tensor);
        return m.find() ? OptionalInt.of(Integer.parseInt(m.group(1))) : OptionalInt.empty();
    }

    /** The name of the same tensor in layer {@code layer} ({@code tensor} must be in a layer). */
    public static String inLayer(String tensor, int layer) {
        Matcher m = LAYER.matcher(tensor);
        if (!m.find()) {
            throw new IllegalArgumentException(tensor + " is in no layer");
        }
        return tensor.substring(0, m.start(1)) + layer + tensor.substring(m.end(1));
    }

    /** How layer tensors are named, for messages. */
    public static final String NAMING = "model.layers.N., transformer.h.N., encoder.layer.N., blocks.N.";

    /** t in [0, 1] for the tensor. */
    public double t(String tensor) {
        OptionalInt i = layerIndex(tensor);
        if (i.isEmpty()) {
            return 0;
        }
        return layers > 1 ? (double) i.getAsInt() / (layers - 1) : 1;
    }
}
