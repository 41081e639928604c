package ugm.core.kernel;

/**
 * Run in a separate JVM by {@link KernelSelectorTest}: selects the kernels as the command line
 * does (from {@value Kernels#BITS_PROPERTY}, each message one {@code ugm:} line on stderr) and
 * prints the selected kernels and one sum they computed.
 */
public final class SelectorProbe {
    private SelectorProbe() {
    }

    public static void main(String[] args) {
        Kernels k = Kernels.select(System.getProperty(Kernels.BITS_PROPERTY), line -> System.err.println("ugm: " + line));
        float[] out = new float[1];
        k.linear(new float[][] {{1f}, {2f}}, new float[] {1f, 1f}, out, 1);
        System.out.println(k.name() + " " + out[0]);
    }
}
