package ugm.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;
import ugm.core.DType;

/** The {@code --dtype}/{@code --out-dtype} options' values: a floating dtype by any name {@link DType#floating} knows. */
final class DTypes implements ITypeConverter<DType> {
    @Override
    public DType convert(String value) {
        DType d = DType.floating(value);
        if (d == null) {
            throw new TypeConversionException("unknown dtype '" + value + "'; use bf16, f16, f32 or f64");
        }
        return d;
    }
}
